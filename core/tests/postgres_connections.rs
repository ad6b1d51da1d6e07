//! Tandem's PostgreSQL connections send each request at once: `TCP_NODELAY` is set on every
//! socket its pool opens. sqlx 0.9.0 stopped setting it, and opening a connection then waited
//! ~80 ms on Nagle's algorithm and the server's delayed acknowledgement; the workspace patches
//! sqlx-core until a release has the fix (vendor/sqlx-core/PATCHED.md).

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use sea_orm::ConnectionTrait;
use tandem_testkit::TestDatabase;

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

    let server = server_address(database.url());
    let sockets = tcp_sockets_to(server);
    assert!(
        sockets.len() >= 2,
        "expected this process's connections to {server} among its sockets (the test's \
         PostgreSQL must be reached over TCP), found {}",
        sockets.len()
    );
    for (fd, nodelay) in sockets {
        assert!(
            nodelay,
            "socket {fd} to {server} waits on Nagle's algorithm"
        );
    }
    db.close().await.ok();
}

/// The address in a `postgres://user@host:port/db` URL, resolved.
fn server_address(url: &str) -> SocketAddr {
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a URL with a host");
    let host_port = authority.rsplit('@').next().expect("a host");
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .expect("resolve the test's PostgreSQL host")
        .next()
        .expect("an address")
}

/// This process's TCP sockets connected to `server`, each with whether `TCP_NODELAY` is set.
fn tcp_sockets_to(server: SocketAddr) -> Vec<(i32, bool)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("this process's descriptors") {
        let Some(fd) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: the descriptor is only read for the moment of these calls; should the pool close
        // it meanwhile, the calls fail (or read another socket, which the address check skips).
        let fd_ref = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd_ref);
        let Ok(peer) = socket.peer_addr() else {
            continue;
        };
        if peer.as_socket() != Some(server) {
            continue;
        }
        found.push((fd, socket.tcp_nodelay().expect("read TCP_NODELAY")));
    }
    found
}
