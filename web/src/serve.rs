//! The HTTP listener. `axum::serve` has no header-read timeout and no cap on connections, so
//! 260 half-sent requests from one client were enough to starve it ("Too many open files").
//! This loop serves the same router with both: a client must finish its request headers within
//! the timeout, and one IP may hold only so many connections at once (the rest are closed as
//! soon as they are accepted).

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Layer;

use crate::held::OpenCounts;

/// What one client may hold and how long it may dawdle.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Connections one IP may have open at once; 0: no cap.
    pub per_ip: usize,
    /// Proxies exempt from the cap: every client behind them shares their address.
    pub exempt: crate::forwarded::TrustedProxies,
    /// Time from a connection's first byte (or an idle keep-alive) to the end of the request's
    /// headers.
    pub header_read: Duration,
}

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves `app` until `shutdown` resolves, then drains the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    let open: OpenCounts<IpAddr> = OpenCounts::default();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: let some close before trying again.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let cap = if limits.exempt.contains(peer.ip()) {
            0
        } else {
            limits.per_ip
        };
        let Some(slot) = open.take(peer.ip(), cap) else {
            tracing::debug!(%peer, "connection refused: too many from this address");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service =
            TowerToHyperService::new(axum::Extension(ConnectInfo(peer)).layer(app.clone()));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
}
