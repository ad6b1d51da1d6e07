//! This process's TCP connections to one server, read off its open descriptors (Linux's
//! `/proc/self/fd`): a test checks how the libraries Tandem uses set up their sockets
//! (`TCP_NODELAY`, vendor/README.md).

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

/// Each of this process's sockets connected to `server`, with whether it sends without Nagle's
/// delay (`TCP_NODELAY`).
pub fn tcp_nodelay_to(server: SocketAddr) -> Vec<bool> {
    let Ok(descriptors) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in descriptors.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // SAFETY: not strictly upheld: `borrow_raw` wants the descriptor open for the borrow,
        // and another thread (a pool dropping a connection) may close it meanwhile, or its number
        // be taken again between the two reads below. What follows only reads socket options
        // and never closes the descriptor, so the worst is a failed read (skipped) or a stray
        // socket's answer; the listing's own descriptor fails the address read and is skipped.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let Ok(peer) = socket.peer_addr() else {
            continue;
        };
        if peer.as_socket() == Some(server)
            && let Ok(nodelay) = socket.tcp_nodelay()
        {
            found.push(nodelay);
        }
    }
    found
}
