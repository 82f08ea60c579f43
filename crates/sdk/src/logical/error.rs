use crate::storage::StorageError;

/// Why a request failed, as the client should learn it. The SDK turns each
/// kind into the HTTP status Vault gives it, in one place (`convert`), so
/// handlers never build wire errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: HTTP 400 with this message. Name the field and the problem,
    /// e.g. ``field `ttl`: expected a duration like `1h`, got `banana` ``.
    #[error("{0}")]
    InvalidRequest(String),
    /// HTTP 403.
    #[error("permission denied")]
    PermissionDenied,
    /// No path of this backend matches: HTTP 404.
    #[error("unsupported path")]
    UnsupportedPath,
    /// The path exists but does not handle the operation: HTTP 405.
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// Any other status, with a message for the client.
    #[error("{message}")]
    Coded { status: u16, message: String },
    /// The host's storage failed: HTTP 500.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something broke inside the plugin: HTTP 500.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidRequest`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidRequest(message.into())
    }

    /// Shorthand for [`Error::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}
