//! Who the client is behind a reverse proxy. Every request through a proxy comes from the
//! proxy's address, so without this all visitors would share one rate-limit bucket. Only
//! proxies the operator of the installation names are believed: from them, the client is the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// The proxies whose `X-Forwarded-For` is believed (`TANDEM_TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<IpAddr>>);

impl TrustedProxies {
    /// From a comma-separated list of IP addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        let proxies = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| format!("{s} is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(Arc::new(proxies)))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }

    /// The client of a request that reached us from `peer` with these `X-Forwarded-For`
    /// values.
    fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops = forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.contains(ip) => continue,
                Ok(ip) => return ip,
                // Garbage where an address should be: trust nothing further left.
                Err(_) => return peer,
            }
        }
        peer
    }
}

/// Middleware: a request from a trusted proxy is seen as coming from the client it names.
pub async fn real_client(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
        && proxies.contains(peer.ip())
    {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = proxies.client(peer.ip(), &forwarded);
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_proxies_are_believed() {
        let proxies = TrustedProxies::parse("10.0.0.1, 10.0.0.2").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A client speaking for itself is not believed.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &["1.2.3.4"]),
            ip("203.0.113.9")
        );
        // Through the proxy, the client is the last address the proxy saw.
        assert_eq!(proxies.client(ip("10.0.0.1"), &["1.2.3.4"]), ip("1.2.3.4"));
        // A client forging a first hop gets its own address, appended by the proxy.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["6.6.6.6, 1.2.3.4"]),
            ip("1.2.3.4")
        );
        // Two proxies in a row.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["1.2.3.4", "10.0.0.2"]),
            ip("1.2.3.4")
        );
        assert_eq!(proxies.client(ip("10.0.0.1"), &["junk"]), ip("10.0.0.1"));
        assert_eq!(proxies.client(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
        assert!(TrustedProxies::parse("10.0.0.1, nope").is_err());
    }
}
