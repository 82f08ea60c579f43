//! Vault's request/response model, as plain Rust types (Go's `sdk/logical`).
//!
//! These are what a backend sees; the gRPC messages they travel in stay inside
//! the SDK.

mod auth;
mod error;
mod request;
mod response;

pub use auth::{Alias, Auth, TokenType};
pub use error::Error;
pub use request::{Connection, Operation, Request};
pub use response::{LeaseOptions, Response, Secret};

/// A JSON object, the shape of request and response data.
pub type Map = serde_json::Map<String, serde_json::Value>;
