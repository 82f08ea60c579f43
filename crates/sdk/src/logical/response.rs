use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::{Auth, Map};

/// Lease settings of a secret or a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseOptions {
    /// Zero means the mount's default.
    pub ttl: Duration,
    /// Zero means the mount's maximum.
    pub max_ttl: Duration,
    pub renewable: bool,
    /// On renew: the increment the client asked for.
    pub increment: Duration,
    /// On renew: when the lease was first issued.
    pub issue_time: Option<SystemTime>,
}

/// A leased secret: the host keeps `internal_data` and hands it back on renew
/// and revoke, so a backend can find what it created.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Secret {
    pub lease: LeaseOptions,
    pub internal_data: Map,
    /// Set by the host; empty in responses.
    pub lease_id: String,
}

/// What a backend answers. `None` in place of a response means "nothing
/// here": the host answers 404 to a read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    pub data: Map,
    pub warnings: Vec<String>,
    /// A URL the host redirects the client to.
    pub redirect: String,
    pub secret: Option<Secret>,
    pub auth: Option<Auth>,
    pub headers: HashMap<String, Vec<String>>,
}

impl Response {
    /// A response carrying `data`.
    ///
    /// ```
    /// use vault_plugin_sdk::logical::Response;
    /// let resp = Response::with_data(serde_json::json!({"value": "x"}));
    /// assert_eq!(resp.data["value"], "x");
    /// ```
    pub fn with_data(data: serde_json::Value) -> Self {
        let data = match data {
            serde_json::Value::Object(map) => map,
            serde_json::Value::Null => Map::new(),
            other => {
                let mut map = Map::new();
                map.insert("value".to_string(), other);
                map
            }
        };
        Response {
            data,
            ..Response::default()
        }
    }

    /// A response the host serves as it is, not as Vault's JSON envelope:
    /// `status`, a `Content-Type` and the body bytes (sent base64-encoded,
    /// which the host decodes). It can carry no secret and no auth.
    ///
    /// ```
    /// use vault_plugin_sdk::logical::Response;
    /// let pem = Response::raw(200, "application/pem-certificate-chain", b"-----BEGIN...");
    /// assert_eq!(pem.data["http_status_code"], 200);
    /// ```
    pub fn raw(status: u16, content_type: &str, body: &[u8]) -> Self {
        use base64::Engine;
        Response::with_data(serde_json::json!({
            "http_status_code": status,
            "http_content_type": content_type,
            "http_raw_body": base64::engine::general_purpose::STANDARD.encode(body),
        }))
    }

    /// Sends the client to `url` (HTTP 307).
    pub fn redirect(url: impl Into<String>) -> Self {
        Response {
            redirect: url.into(),
            ..Response::default()
        }
    }

    /// Adds a warning the host shows the client beside the data.
    pub fn warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}
