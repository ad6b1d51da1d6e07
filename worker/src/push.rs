//! Web Push to operators' browsers: each payload encrypted to its browser (RFC 8291, aes128gcm)
//! and each request signed with the installation's VAPID key (RFC 8292), sent to the browser's
//! push service under the same address rules as webhooks.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use tandem_core::clock::Timestamp;
use tandem_core::push::PushToSend;

use crate::webhook::{
    PostError, WebhookPolicy, classify_send_error, outbound_client, outbound_url,
};

/// How long a push service keeps a push for a browser that is offline: an alert older than
/// this has had its digest mail, and the workspace shows it when opened.
pub const TIME_TO_LIVE: Duration = Duration::from_secs(12 * 3600);
/// How long a VAPID signature is good for (push services take at most 24 hours).
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The installation's VAPID key pair.
pub struct Vapid {
    key: SigningKey,
    /// The public key, uncompressed, base64url: what browsers subscribe with.
    public: String,
    /// `mailto:` or `https:`: whom push services may contact about these pushes.
    contact: String,
}

impl Vapid {
    /// The key pair derived from the installation's 32-byte secret (hashed until it is a valid
    /// P-256 scalar, which a random one is but for a chance of 2⁻³²).
    pub fn from_secret(secret: &[u8], contact: String) -> Self {
        let mut candidate: [u8; 32] = match secret.try_into() {
            Ok(bytes) => bytes,
            Err(_) => Sha256::digest(secret).into(),
        };
        let key = loop {
            match SigningKey::from_slice(&candidate) {
                Ok(key) => break key,
                Err(_) => candidate = Sha256::digest(candidate).into(),
            }
        };
        let point = key.verifying_key().to_encoded_point(false);
        Self {
            public: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            key,
            contact,
        }
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header for a push to `endpoint`: a JWT (ES256) whose audience is the
    /// push service's origin, and the public key.
    pub fn authorization(&self, endpoint: &reqwest::Url, now: Timestamp) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let expires = now.saturating_add(SIGNATURE_LIFETIME).millis() / 1000;
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": expires,
            "sub": self.contact,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signed}.{signature}, k={}", self.public)
    }
}

/// Why a push did not land.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Worth another try later: a timeout, a refused connection, 408, 429 or a 5xx.
    #[error("{0}")]
    Transient(String),
    /// Another try would fare no better.
    #[error("{0}")]
    Permanent(String),
    /// The push service no longer knows this browser (or its keys are unusable).
    #[error("{0}")]
    Gone(String),
}

#[derive(Clone)]
pub struct PushSender {
    client: reqwest::Client,
    policy: WebhookPolicy,
}

impl PushSender {
    pub fn new(policy: WebhookPolicy) -> Self {
        let client = outbound_client(policy, concat!("Tandem-Push/", env!("CARGO_PKG_VERSION")));
        Self { client, policy }
    }

    /// Encrypts the push's payload to its browser and sends it, signed with `vapid`.
    pub async fn send(
        &self,
        push: &PushToSend,
        vapid: &Vapid,
        now: Timestamp,
    ) -> Result<(), PushError> {
        let url = outbound_url(&push.endpoint, self.policy)
            .map_err(|e| PushError::Permanent(e.to_string()))?;
        let body = encrypt(push)?;
        let response = self
            .client
            .post(url.clone())
            .header("TTL", TIME_TO_LIVE.as_secs())
            .header("Urgency", "high")
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(
                reqwest::header::AUTHORIZATION,
                vapid.authorization(&url, now),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| match classify_send_error(&e) {
                PostError::Transient(reason) => PushError::Transient(reason),
                PostError::Permanent(reason) => PushError::Permanent(reason),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = format!("the push service answered {status}");
        match status.as_u16() {
            404 | 410 => Err(PushError::Gone(format!(
                "{reason}: the browser is no longer subscribed"
            ))),
            408 | 429 | 500..=599 => Err(PushError::Transient(reason)),
            300..=399 => Err(PushError::Permanent(format!(
                "{reason}; redirects are not followed"
            ))),
            _ => Err(PushError::Permanent(reason)),
        }
    }
}

/// The payload, encrypted to the browser's keys with a fresh key pair and salt.
fn encrypt(push: &PushToSend) -> Result<Vec<u8>, PushError> {
    let unusable = |what: &str| PushError::Gone(format!("the browser's {what} is not usable"));
    let public = URL_SAFE_NO_PAD
        .decode(&push.p256dh)
        .ok()
        .and_then(|bytes| p256::PublicKey::from_sec1_bytes(&bytes).ok())
        .ok_or_else(|| unusable("public key"))?;
    let auth = URL_SAFE_NO_PAD
        .decode(&push.auth)
        .ok()
        .filter(|bytes| bytes.len() == 16)
        .ok_or_else(|| unusable("authentication secret"))?;
    let auth = web_push_native::Auth::clone_from_slice(&auth);
    web_push_native::encrypt(push.payload.as_bytes().to_vec(), &public, &auth)
        .map_err(|e| PushError::Permanent(format!("cannot encrypt the push: {e}")))
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use tandem_core::ids::{PushSendId, PushSubscriptionId, TenantId};

    use super::*;

    #[test]
    fn signs_a_jwt_any_verifier_accepts() {
        let vapid = Vapid::from_secret(&[7; 32], "mailto:ops@tandem.example".into());
        let url = reqwest::Url::parse("https://push.example:8443/send/abc").unwrap();
        let header = vapid.authorization(&url, Timestamp::from_millis(1_000_000));
        let (token, key) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .expect("vapid t=…, k=…");
        assert_eq!(key, vapid.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let claims = signed.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example:8443");
        assert_eq!(claims["exp"], 1_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@tandem.example");
        let public = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        public
            .verify(signed.as_bytes(), &signature)
            .expect("a valid ES256 signature");
        // The same secret gives the same key on every node.
        let again = Vapid::from_secret(&[7; 32], String::new());
        assert_eq!(again.public_key(), vapid.public_key());
    }

    #[test]
    fn the_browser_alone_can_read_the_payload() {
        let browser = p256::SecretKey::from_slice(&[9; 32]).unwrap();
        let auth = [3u8; 16];
        let push = PushToSend {
            id: PushSendId::new(),
            tenant: TenantId::new(),
            subscription: PushSubscriptionId::new(),
            endpoint: "https://push.example/x".into(),
            p256dh: URL_SAFE_NO_PAD.encode(browser.public_key().to_encoded_point(false).as_bytes()),
            auth: URL_SAFE_NO_PAD.encode(auth),
            payload: r#"{"title":"Vera left an offline request"}"#.into(),
            attempt: 1,
            claimed_until: Timestamp::from_millis(0),
        };
        let sealed = encrypt(&push).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("Vera"));
        let auth = web_push_native::Auth::clone_from_slice(&auth);
        let opened = web_push_native::decrypt(sealed.clone(), &browser, &auth).unwrap();
        assert_eq!(opened, push.payload.as_bytes());
        let stranger = p256::SecretKey::from_slice(&[5; 32]).unwrap();
        assert!(web_push_native::decrypt(sealed, &stranger, &auth).is_err());

        let broken = PushToSend {
            p256dh: URL_SAFE_NO_PAD.encode([4u8; 65]),
            ..push
        };
        assert!(matches!(encrypt(&broken), Err(PushError::Gone(_))));
    }
}
