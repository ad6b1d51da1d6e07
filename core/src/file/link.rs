//! Links to a file that work without logging in, for mail: the unread-reply email names the
//! operator's files with links to them. Each is signed (HMAC-SHA256 with a key of the
//! installation) over the tenant, the file and the time it expires.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::Timestamp;
use crate::error::{CoreError, CoreResult};
use crate::ids::{FileId, TenantId};

pub(crate) const KEY_NAME: &str = "file-link-signing-key";

/// How long a mailed link works: as long as the mail's link back to the dialog.
pub const LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The query that opens a file without credentials: `expires=<unix seconds>&signature=<mac>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLink {
    pub expires: i64,
    pub signature: String,
}

impl FileLink {
    pub(crate) fn sign(key: &[u8], tenant: TenantId, file: FileId, now: Timestamp) -> Self {
        let expires = now.saturating_add(LINK_LIFETIME).millis() / 1000;
        let signature =
            URL_SAFE_NO_PAD.encode(mac(key, tenant, file, expires).finalize().into_bytes());
        Self { expires, signature }
    }

    /// Whether this link opens `file` of `tenant` at `now`.
    pub(crate) fn check(
        &self,
        key: &[u8],
        tenant: TenantId,
        file: FileId,
        now: Timestamp,
    ) -> CoreResult<()> {
        let invalid = CoreError::Unauthorized("this link is not valid");
        let signature = URL_SAFE_NO_PAD
            .decode(&self.signature)
            .map_err(|_| CoreError::Unauthorized("this link is not valid"))?;
        // `verify_slice` compares in constant time.
        mac(key, tenant, file, self.expires)
            .verify_slice(&signature)
            .map_err(|_| invalid)?;
        if self.expires.saturating_mul(1000) <= now.millis() {
            return Err(CoreError::Unauthorized("this link has expired"));
        }
        Ok(())
    }

    pub fn query(&self) -> String {
        format!("expires={}&signature={}", self.expires, self.signature)
    }
}

fn mac(key: &[u8], tenant: TenantId, file: FileId, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("file:{tenant}:{file}:{expires}").as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_its_file_of_its_tenant_until_it_expires() {
        let key = [7u8; 32];
        let (tenant, file) = (TenantId::new(), FileId::new());
        let now = Timestamp::from_millis(1_800_000_000_000);
        let link = FileLink::sign(&key, tenant, file, now);
        assert!(link.check(&key, tenant, file, now).is_ok());
        assert!(link.check(&key, TenantId::new(), file, now).is_err());
        assert!(link.check(&key, tenant, FileId::new(), now).is_err());
        assert!(link.check(&[8u8; 32], tenant, file, now).is_err());
        let later = now.saturating_add(LINK_LIFETIME);
        assert!(link.check(&key, tenant, file, later).is_err());
        let forged = FileLink {
            expires: link.expires + 3600,
            ..link.clone()
        };
        assert!(forged.check(&key, tenant, file, now).is_err());
    }
}
