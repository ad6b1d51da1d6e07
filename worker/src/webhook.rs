//! Posting webhooks that tenant plugins chose: signed, time-limited, never redirected, and by
//! default never to the server's own network.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;
use tandem_core::delivery::WebhookCall;

/// The header carrying `sha256=` and the hex HMAC-SHA256 of the body, keyed with the tenant's
/// webhook secret.
pub const SIGNATURE_HEADER: &str = "x-tandem-signature";
/// The post's id: the same on every retry of one post, so a receiver can drop repeats.
pub const DELIVERY_HEADER: &str = "x-tandem-delivery";
/// 1 on the first try.
pub const ATTEMPT_HEADER: &str = "x-tandem-attempt";

/// How long a receiver has to answer, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookPolicy {
    pub timeout: Duration,
    /// Whether posts may go to loopback, private, link-local and other non-public addresses.
    /// Off by default: a tenant admin must not reach the SaaS operator's internal services.
    pub private_addresses: bool,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            private_addresses: false,
        }
    }
}

/// Why a post did not land.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// Worth another try later: a timeout, a refused connection, 408, 429 or a 5xx.
    #[error("{0}")]
    Transient(String),
    /// Another try would fare no better: another 4xx, a redirect, a forbidden address.
    #[error("{0}")]
    Permanent(String),
}

#[derive(Clone)]
pub struct WebhookPoster {
    client: reqwest::Client,
    policy: WebhookPolicy,
}

impl WebhookPoster {
    pub fn new(policy: WebhookPolicy) -> Self {
        let client = outbound_client(
            policy,
            concat!("Tandem-Webhooks/", env!("CARGO_PKG_VERSION")),
        );
        Self { client, policy }
    }

    /// Posts the call's body, signed. `Ok` carries the receiver's 2xx status.
    pub async fn post(&self, call: &WebhookCall) -> Result<u16, PostError> {
        let url = outbound_url(&call.url, self.policy)?;
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&call.secret, call.body.as_bytes()),
            )
            .header(DELIVERY_HEADER, call.id.to_string())
            .header(ATTEMPT_HEADER, call.attempt.to_string())
            .body(call.body.clone())
            .send()
            .await
            .map_err(|e| classify_send_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let reason = format!("the receiver answered {status}");
        if status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            Err(PostError::Transient(reason))
        } else if status.is_redirection() {
            Err(PostError::Permanent(format!(
                "{reason}; redirects are not followed"
            )))
        } else {
            Err(PostError::Permanent(reason))
        }
    }
}

/// An HTTP client for requests a tenant's settings (or its operators' browsers) aim: time-limited,
/// never redirected and, unless `policy` allows it, never to a non-public address.
pub(crate) fn outbound_client(policy: WebhookPolicy, user_agent: &'static str) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent);
    if !policy.private_addresses {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().unwrap_or_else(|e| {
        // Only a broken TLS set-up makes building fail; sending then fails per call.
        tracing::error!(error = %e, "cannot build an outbound HTTP client; using the defaults");
        reqwest::Client::new()
    })
}

/// `url` parsed, unless it names a non-public address that `policy` forbids.
pub(crate) fn outbound_url(url: &str, policy: WebhookPolicy) -> Result<reqwest::Url, PostError> {
    let url = reqwest::Url::parse(url)
        .map_err(|e| PostError::Permanent(format!("the URL does not parse: {e}")))?;
    if !policy.private_addresses
        && let Some(host) = url.host_str()
        && let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>()
        && !is_public(ip)
    {
        return Err(PostError::Permanent(format!(
            "{ip} is not a public address; Tandem may not send to it"
        )));
    }
    Ok(url)
}

/// `sha256=` and the hex HMAC-SHA256 of `body` keyed with `secret`: what receivers compare.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!(
        "sha256={}",
        tandem_core::secret::hex(&mac.finalize().into_bytes())
    )
}

pub(crate) fn classify_send_error(e: &reqwest::Error) -> PostError {
    // The resolver's refusal surfaces as a connect error; it is not worth retrying.
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<NotPublic>() {
            return PostError::Permanent(inner.to_string());
        }
        source = inner.source();
    }
    if e.is_timeout() {
        PostError::Transient("the receiver did not answer in time".into())
    } else if e.is_connect() {
        PostError::Transient(format!("cannot connect: {}", root_cause(e)))
    } else {
        PostError::Transient(root_cause(e))
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e;
    while let Some(inner) = last.source() {
        last = inner;
    }
    last.to_string()
}

/// Resolves names to public addresses only, so that a name pointing inside cannot be used to
/// reach the server's own network.
struct PublicOnly;

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to no public address; Tandem may not send to it")]
struct NotPublic(String);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Addresses on the public internet, and only those: an allow-list of global unicast ranges,
/// with the IPv4 address inside IPv6 forms that embed one (mapped, NAT64, 6to4) checked in turn.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: std::net::Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    let reserved = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !reserved
}

fn is_public_v6(v6: std::net::Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |high: u16, low: u16| {
        std::net::Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    // ::ffff:a.b.c.d, mapped.
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 64:ff9b::a.b.c.d, the well-known NAT64 prefix.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 2002:aabb:ccdd::/48, 6to4 of a.b.c.d.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    let global_unicast = (s[0] & 0xe000) == 0x2000; // 2000::/3
    // 2001::/23: IETF protocol assignments and Teredo; 2001:db8::/32: documentation.
    let special = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8);
    // 3fff::/20: documentation, and what is around it.
    let reserved = special || (s[0] & 0xfff0) == 0x3ff0;
    global_unicast && !reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_reference_vector() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tells_public_addresses_from_internal_ones() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            // IPv6 forms that carry an internal IPv4 address, and reserved ranges.
            "::127.0.0.1",
            "::169.254.169.254",
            "64:ff9b::10.0.0.1",
            "64:ff9b::169.254.169.254",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::1",
            "::ffff:0:7f00:1",
            "fec0::1",
            "2001::1",
            "2001:db8::1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
