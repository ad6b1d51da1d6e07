//! This process's TCP connections to one server, read off its open descriptors: a test checks
//! how the libraries Tandem uses set up their sockets (`TCP_NODELAY`, vendor/README.md).

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
        // SAFETY: the descriptor is only read for the moment of these calls; were it closed
        // meanwhile, they fail, and were its number taken again, the address check below skips
        // whatever it now is.
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
