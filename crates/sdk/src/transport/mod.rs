//! How bytes move between host and plugin: go-plugin's AutoMTLS, the unix
//! socket the plugin listens on, and the connections it dials to the broker.

pub mod automtls;
mod dial;
mod listener;

pub use dial::{dial_unix_tls, pre_dialed_unix_tls};
pub use listener::{PluginListener, SocketGuard, TlsConnection, TlsIncoming};

/// go-plugin raises gRPC message limits to `math.MaxInt32` on both sides;
/// tonic's 4 MiB default would refuse large requests Vault happily sends.
pub const MAX_MESSAGE_SIZE: usize = i32::MAX as usize;
