//! The link in every unread-reply email that stops them for that visitor. Its token is signed
//! (HMAC-SHA256 with a key generated once per installation), so it needs no storage and does
//! not expire: a visitor who wants the mails to stop can always stop them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sha2::Sha256;

use crate::entity::visitor;
use crate::error::{CoreError, CoreResult};
use crate::ids::{TenantId, VisitorId};
use crate::server_key::server_key;

use super::VisitorService;

const KEY_NAME: &str = "unsubscribe-signing-key";
const PREFIX: &str = "us_";

impl VisitorService {
    /// The token for this visitor's "stop these emails" link.
    pub async fn unsubscribe_token(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
    ) -> CoreResult<String> {
        let key = server_key(self.deps(), KEY_NAME).await?;
        Ok(format!(
            "{PREFIX}{visitor}_{}",
            URL_SAFE_NO_PAD.encode(signature(&key, tenant, visitor)?)
        ))
    }

    /// Stops unread-reply emails to the visitor the token names, within this tenant only.
    pub async fn unsubscribe(&self, tenant: TenantId, token: &str) -> CoreResult<()> {
        let invalid = || CoreError::Unauthorized("this link is not valid");
        let rest = token.strip_prefix(PREFIX).ok_or_else(invalid)?;
        let (id, mac) = (rest.get(..36), rest.get(37..));
        let (Some(id), Some(mac), Some('_')) = (id, mac, rest.chars().nth(36)) else {
            return Err(invalid());
        };
        let visitor: VisitorId = id.parse().map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let key = server_key(self.deps(), KEY_NAME).await?;
        let mut check = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|_| CoreError::Storage(DbErr::Custom("signing key".into())))?;
        check.update(message(tenant, visitor).as_bytes());
        // `verify_slice` compares in constant time.
        check.verify_slice(&mac).map_err(|_| invalid())?;
        let txn = self.deps().write().await?;
        let updated = visitor::Entity::update_many()
            .col_expr(visitor::Column::EmailsStopped, Expr::value(true))
            .filter(visitor::Column::Id.eq(visitor))
            .filter(visitor::Column::TenantId.eq(tenant))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if updated.rows_affected == 0 {
            return Err(invalid());
        }
        Ok(())
    }
}

fn message(tenant: TenantId, visitor: VisitorId) -> String {
    format!("unsubscribe:{tenant}:{visitor}")
}

fn signature(key: &[u8], tenant: TenantId, visitor: VisitorId) -> CoreResult<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|_| CoreError::Storage(DbErr::Custom("signing key".into())))?;
    mac.update(message(tenant, visitor).as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}
