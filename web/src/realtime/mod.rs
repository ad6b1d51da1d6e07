//! Live events over WebSocket: the hub that fans domain events out to sockets, and the widget
//! and operator sockets themselves.

pub mod frames;
pub mod hub;
pub mod operator_socket;
pub mod socket;
pub mod visitor_socket;
