//! The HTTP listener. `axum::serve` has no header-read timeout and no cap on connections, so
//! 260 half-sent requests from one client were enough to starve it ("Too many open files").
//! This loop serves the same router over HTTP/1.1 (with WebSocket upgrades) with both: a client
//! must finish its request headers within the timeout, and one IP may hold only so many
//! connections at once (the rest are closed as soon as they are accepted).

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::Layer;

use tandem_core::held::OpenCounts;

/// What one client may hold and how long it may dawdle.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Connections one IP may have open at once; 0: no cap.
    pub per_ip: usize,
    /// Time from a connection's first byte (or an idle keep-alive) to the end of the request's
    /// headers.
    pub header_read: Duration,
    /// Proxies exempt from the cap: every client behind them shares their address.
    pub exempt: crate::forwarded::TrustedProxies,
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
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let open: OpenCounts<IpAddr> = OpenCounts::default();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
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
        // Finished connections leave the set as new ones come.
        while connections.try_join_next().is_some() {}
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
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = until_stopped(&mut stopping) => {
                    // The request in flight finishes; an idle connection closes now.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
}

/// Resolves when the listener stops (or is gone).
async fn until_stopped(stopping: &mut watch::Receiver<bool>) {
    // Scoped so the borrow of the value ends before anything else is awaited.
    let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
}
