//! Tandem's PostgreSQL connections send each request at once: `TCP_NODELAY` is set on every
//! socket its pool opens. sqlx-core 0.9.0 stopped setting it, and opening a connection then
//! waited ~80 ms on Nagle's algorithm; the workspace patches it until a release has the fix
//! (vendor/README.md).
#![cfg(target_os = "linux")]

use std::net::ToSocketAddrs;

use sea_orm::ConnectionTrait;
use sea_orm::sqlx::postgres::PgConnectOptions;
use tandem_testkit::TestDatabase;
use tandem_testkit::sockets::tcp_nodelay_to;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_to_postgres_sends_without_delay() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let db = tandem_core::database::connect(database.url())
        .await
        .expect("connect");
    // Two at once, so the pool has opened more than the connection it starts with.
    let (a, b) = tokio::join!(
        db.execute_unprepared("SELECT pg_sleep(0.05)"),
        db.execute_unprepared("SELECT pg_sleep(0.05)")
    );
    a.and(b).expect("two queries");

    let servers = server_addresses(database.url());
    let sockets: Vec<bool> = servers.iter().flat_map(|&a| tcp_nodelay_to(a)).collect();
    assert!(
        sockets.len() >= 2,
        "expected this process's connections to {servers:?} among its sockets (the test's \
         PostgreSQL must be reached over TCP), found {}",
        sockets.len()
    );
    assert!(
        sockets.iter().all(|&nodelay| nodelay),
        "a connection to {servers:?} waits on Nagle's algorithm: {sockets:?}"
    );
    db.close().await.ok();
}

/// The addresses the host of the test's PostgreSQL URL resolves to (`localhost` may be both
/// 127.0.0.1 and ::1).
fn server_addresses(url: &str) -> Vec<std::net::SocketAddr> {
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    (options.get_host(), options.get_port())
        .to_socket_addrs()
        .expect("resolve the test's PostgreSQL host")
        .collect()
}
