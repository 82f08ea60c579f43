//! The path framework (Go's `sdk/framework`): a backend declared as data.
//!
//! A plugin keeps its state in one struct, declares each API path as a
//! [`Path`] (pattern, [`Field`]s, operation handlers, help) in one file per
//! resource, and hands them to a [`Framework`], which implements
//! [`crate::backend::Backend`]: routing, field parsing with Vault's rules and
//! error texts, create-vs-update existence checks, leased secrets with renew
//! and revoke, the auth renew hook, the write-ahead log and periodic
//! rollback, and `path-help` with an OpenAPI document.
//!
//! ```no_run
//! use vault_plugin_sdk::backend::{BackendType, factory};
//! use vault_plugin_sdk::framework::{Field, FieldData, Framework, Path, pattern};
//! use vault_plugin_sdk::logical::{Error, Request, Response};
//!
//! struct Greeter;
//!
//! async fn greet(_: &Greeter, _: &Request, data: &FieldData) -> Result<Option<Response>, Error> {
//!     let name: String = data.get("name")?;
//!     Ok(Some(Response::with_data(serde_json::json!({ "greeting": format!("hello {name}") }))))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     vault_plugin_sdk::serve(
//!         vault_plugin_sdk::plugin_info!(),
//!         factory(|_config| async {
//!             Ok(Framework::new(BackendType::Secrets, Greeter)
//!                 .path(
//!                     Path::new(format!("hello/{}", pattern::generic_name("name")))
//!                         .field(Field::string("name").description("Who to greet."))
//!                         .read(greet)
//!                         .help("Greets.", "Reads a greeting for a name."),
//!                 )
//!                 .build()?)
//!         }),
//!     )
//! }
//! ```

mod backend;
pub mod cidr;
mod field;
mod field_data;
mod handler;
mod help;
mod json_storage;
mod openapi;
mod parse;
mod path;
pub mod pattern;
mod secret;
pub mod token;
pub mod wal;

pub use backend::{DEFAULT_WAL_ROLLBACK_MIN_AGE, Framework};
pub use field::{Field, FieldType};
pub use field_data::{FieldData, FieldValue, FromField};
pub use handler::{
    BoxFuture, ExistenceFn, HandlerResult, HookFn, InvalidateFn, OperationFn, RequestFn, RollbackFn,
};
pub use json_storage::JsonStorage;
pub use path::Path;
pub use secret::{SECRET_TYPE_KEY, SecretType, secret_response};

/// Compares two secrets in time that does not depend on where they differ,
/// so a caller cannot guess a password byte by byte from response times.
///
/// ```
/// use vault_plugin_sdk::framework::constant_time_eq;
/// assert!(constant_time_eq(b"s3cret", b"s3cret"));
/// assert!(!constant_time_eq(b"s3cret", b"s3creT"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

impl From<pattern::PatternError> for crate::logical::Error {
    fn from(err: pattern::PatternError) -> Self {
        crate::logical::Error::internal(err.to_string())
    }
}
