//! Web Push to operators' browsers, so an alert reaches an operator whose workspace tab is
//! closed. Each operator opts in per browser (a subscription: the push service's endpoint and
//! the keys payloads are encrypted to). When an alert is routed to the operators, one push per
//! subscribed browser of the tenant's active operators is stored in the routing's transaction;
//! the workers then claim, encrypt, sign (VAPID) and send each, with retries, like webhook
//! posts. A browser the push service says is gone (404, 410) is forgotten.

mod sends;
mod subscriptions;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::alert::OperatorAlert;
use crate::clock::Timestamp;
use crate::error::{CoreError, CoreResult};
use crate::ids::PushSubscriptionId;
use crate::services::Deps;

pub(crate) use sends::queue_for_alert;
pub use sends::{PushClaim, PushOutcome, PushToSend};

/// The longest endpoint taken; push services' are a few hundred characters.
pub const MAX_ENDPOINT_CHARS: usize = 1024;
/// A push shows this much of the visitor's message.
pub const PREVIEW_CHARS: usize = 200;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The browser unsubscribed (the push service said so, or the operator did).
    #[sea_orm(string_value = "gone")]
    Gone,
}

/// What a browser's `PushSubscription.toJSON()` gives, as the workspace posts it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The push service's URL for this browser: `https://` to a browser push service (FCM,
    /// Mozilla's, Apple's, Windows'), or `http://` to this machine, for development.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 1024,
            pattern = r"^(https://(fcm\.googleapis\.com|android\.googleapis\.com|updates\.push\.services\.mozilla\.com|[a-z0-9-]+(\.[a-z0-9-]+)*\.push\.apple\.com|[a-z0-9-]+(\.[a-z0-9-]+)*\.notify\.windows\.com)|http://(127\.0\.0\.1|localhost|\[::1\]))(:[0-9]+)?([/?#][!-~]*)?$"
        )
    )]
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    /// Ignored: browsers send it, and push services expire endpoints themselves.
    #[serde(default, rename = "expirationTime")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub expiration_time: Option<serde_json::Value>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key: 65 bytes (uncompressed, so the first is 4), base64url;
    /// a string of that form that is not a point of the curve is a 422.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^B[A-P][A-Za-z0-9_-]{84}[AEIMQUYcgkosw048]=?$")
    )]
    pub p256dh: String,
    /// The browser's authentication secret: 16 bytes, base64url.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9_-]{21}[AQgw](==)?$")
    )]
    pub auth: String,
}

/// A browser where the operator opted in, as the workspace lists them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PushSubscription {
    pub id: PushSubscriptionId,
    /// For the workspace to find its own browser among them.
    pub endpoint: String,
    /// Browser and system, e.g. "Chrome on Linux".
    pub label: String,
    pub created_at: Timestamp,
    pub last_sent_at: Option<Timestamp>,
    /// Why the last push failed, if it did.
    pub last_error: Option<String>,
}

/// What a push says: the service worker shows it as a notification and opens `url` on a click.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPayload {
    pub alert: crate::ids::AlertId,
    pub chat: crate::ids::ChatId,
    pub title: String,
    pub body: String,
    /// Relative to the workspace's origin.
    pub url: String,
}

impl PushPayload {
    pub(crate) fn of(alert: &OperatorAlert) -> Self {
        Self {
            alert: alert.id,
            chat: alert.chat_id,
            title: alert.headline(),
            body: crate::text::cut(&alert.preview, PREVIEW_CHARS),
            url: format!("/app#chat={}", alert.chat_id),
        }
    }
}

/// Opting browsers in and out, and sending alerts to them.
#[derive(Clone)]
pub struct PushService {
    deps: Arc<Deps>,
}

impl PushService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }
}

/// A subscription's fields, checked.
pub(crate) struct CheckedSubscription {
    endpoint: String,
    p256dh: String,
    auth: String,
}

impl CheckedSubscription {
    fn parse(new: &NewSubscription) -> CoreResult<Self> {
        Ok(Self {
            endpoint: check_endpoint(&new.endpoint)?,
            p256dh: check_key(&new.keys.p256dh, "keys.p256dh", 65)?,
            auth: check_key(&new.keys.auth, "keys.auth", 16)?,
        })
    }
}

/// The push services of the browsers operators use (Chrome, Edge, Opera, Brave, Samsung: FCM;
/// Firefox: Mozilla's autopush; Safari: Apple's; Windows: WNS). A name starting with a dot
/// stands for its subdomains. Nothing else is taken: an operator's subscription must not aim
/// the server's requests anywhere they like.
pub const PUSH_SERVICES: &[&str] = &[
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    ".push.apple.com",
    ".notify.windows.com",
];

/// An `https://` URL of a known push service, of printable ASCII; `http://` only to this
/// machine (a push service on loopback, for development), which the sender refuses anyway
/// unless private addresses are allowed.
fn check_endpoint(endpoint: &str) -> CoreResult<String> {
    let field = "endpoint";
    if endpoint.len() > MAX_ENDPOINT_CHARS {
        return Err(CoreError::invalid(
            field,
            format!("at most {MAX_ENDPOINT_CHARS} characters"),
        ));
    }
    if !endpoint.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoreError::invalid(
            field,
            "must be a URL of printable ASCII",
        ));
    }
    let (secure, rest) = match (
        endpoint.strip_prefix("https://"),
        endpoint.strip_prefix("http://"),
    ) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(CoreError::invalid(field, "must be an https:// URL")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(CoreError::invalid(field, "must not carry a user"));
    }
    let (host, port) = match authority.find(']') {
        Some(end) if authority.starts_with('[') => authority.split_at(end + 1),
        _ => authority.split_at(authority.find(':').unwrap_or(authority.len())),
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    if host.is_empty() || !port_ok {
        return Err(CoreError::invalid(
            field,
            "must name a host (and a port, if any, in digits)",
        ));
    }
    // Lower case, as browsers give it (and as the API document's pattern says).
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&host);
    let known = PUSH_SERVICES
        .iter()
        .any(|service| match service.strip_prefix('.') {
            Some(_) => host.strip_suffix(service).is_some_and(|sub| {
                sub.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                })
            }),
            None => host == *service,
        });
    match (secure, known, loopback) {
        (_, _, true) | (true, true, false) => Ok(endpoint.to_owned()),
        (false, _, false) => Err(CoreError::invalid(field, "must be an https:// URL")),
        (true, false, false) => Err(CoreError::invalid(
            field,
            "must be a browser push service's URL (FCM, Mozilla, Apple or Windows)",
        )),
    }
}

/// A base64url key of `len` bytes, given back without padding: its form is checked as the API
/// document states it (a 400 otherwise); a public key (65 bytes) must moreover be a point of
/// P-256 (a 422 otherwise).
fn check_key(key: &str, field: &'static str, len: usize) -> CoreResult<String> {
    let decoded = URL_SAFE_NO_PAD
        .decode(key.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(key))
        .map_err(|_| CoreError::invalid(field, "must be base64url"))?;
    let point = len == 65;
    if decoded.len() != len || (point && decoded[0] != 4) {
        let what = if point {
            "an uncompressed P-256 public key (65 bytes)"
        } else {
            "16 bytes"
        };
        return Err(CoreError::invalid(
            field,
            format!("must be {what}, as browsers give it"),
        ));
    }
    if point && p256::PublicKey::from_sec1_bytes(&decoded).is_err() {
        return Err(CoreError::Unusable {
            field,
            reason: "is not a point of P-256".into(),
        });
    }
    Ok(URL_SAFE_NO_PAD.encode(decoded))
}

/// Only the tenant's own rows are ever read or changed.
fn not_found() -> CoreError {
    CoreError::NotFound("push subscription")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(endpoint: &str, p256dh: &str, auth: &str) -> NewSubscription {
        NewSubscription {
            endpoint: endpoint.into(),
            keys: SubscriptionKeys {
                p256dh: p256dh.into(),
                auth: auth.into(),
            },
            expiration_time: None,
        }
    }

    const P256DH: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";

    #[test]
    fn takes_what_browsers_give() {
        let ok = CheckedSubscription::parse(&new(
            "https://fcm.googleapis.com/fcm/send/abc:def",
            P256DH,
            AUTH,
        ))
        .expect("a browser's subscription");
        assert_eq!(ok.p256dh, P256DH);
        assert_eq!(ok.auth, AUTH);
        // Padded, as some libraries write it.
        let padded = CheckedSubscription::parse(&new(
            "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
            P256DH,
            "_ordMnz7uTCmrpBTeUV4Bw==",
        ))
        .expect("padded");
        assert_eq!(padded.auth, AUTH);
        for endpoint in [
            "http://127.0.0.1:9/push",
            "http://[::1]/push",
            "https://web.push.apple.com/QGuQy",
            "https://fcm.googleapis.com:443/fcm/send/x",
            "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
        ] {
            assert!(
                CheckedSubscription::parse(&new(endpoint, P256DH, AUTH)).is_ok(),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn refuses_what_no_push_service_gives() {
        for endpoint in [
            "http://fcm.googleapis.com/fcm/send/x",
            "https://push.example/x",
            "https://fcm.googleapis.com.evil.example/x",
            "https://evilfcm.googleapis.com/x",
            "https://push.apple.com/x",
            "https://x.push.apple.com:notaport/x",
            "https://FCM.googleapis.com/fcm/send/x",
            "https://a_b.push.apple.com/x",
            "https://a..b.notify.windows.com/x",
            "http://127.0.0.1.evil.example/x",
            "https://10.0.0.1/x",
            "ftp://push.example/x",
            "https://",
            "https://user@fcm.googleapis.com/x",
            "https://fcm.googleapis.com/a b",
            "javascript:alert(1)",
        ] {
            assert!(
                CheckedSubscription::parse(&new(endpoint, P256DH, AUTH)).is_err(),
                "{endpoint}"
            );
        }
        let long = format!(
            "https://fcm.googleapis.com/{}",
            "a".repeat(MAX_ENDPOINT_CHARS)
        );
        assert!(CheckedSubscription::parse(&new(&long, P256DH, AUTH)).is_err());
        for (p256dh, auth) in [
            ("BAAA", AUTH),
            (&P256DH[1..], AUTH),
            (P256DH, "short"),
            (P256DH, "not base64 !"),
            // 65 bytes, but not an uncompressed point.
            (
                "ALn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY",
                AUTH,
            ),
            // Uncompressed, but off the curve.
            (
                "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JcY",
                AUTH,
            ),
        ] {
            assert!(
                CheckedSubscription::parse(&new("https://fcm.googleapis.com/x", p256dh, auth))
                    .is_err(),
                "{p256dh} {auth}"
            );
        }
    }
}
