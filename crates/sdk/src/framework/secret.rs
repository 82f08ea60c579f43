//! Kinds of leased secrets and their renew/revoke handlers (Go's
//! `framework.Secret`).

use std::time::Duration;

use super::handler::{self, RequestFn};
use crate::logical::{LeaseOptions, Map, Response, Secret};

/// The key in a secret's internal data naming its type, as Go's framework
/// stores it, so leases issued by a Go plugin stay revocable by ours.
pub const SECRET_TYPE_KEY: &str = "secret_type";

/// One kind of leased secret a backend issues.
///
/// ```
/// use vault_plugin_sdk::framework::SecretType;
/// use vault_plugin_sdk::logical::{Error, Request, Response};
///
/// struct Aws;
///
/// async fn revoke_keys(_: &Aws, req: &Request) -> Result<Option<Response>, Error> {
///     let _user = req.secret.as_ref().and_then(|s| s.internal_data.get("username"));
///     Ok(None)
/// }
///
/// let keys: SecretType<Aws> = SecretType::new("access_keys").revoke(revoke_keys);
/// ```
pub struct SecretType<B> {
    pub(crate) type_name: &'static str,
    pub(crate) default_ttl: Duration,
    pub(crate) renew: Option<handler::RequestHook<B>>,
    pub(crate) revoke: Option<handler::RequestHook<B>>,
}

impl<B: 'static> SecretType<B> {
    pub fn new(type_name: &'static str) -> Self {
        SecretType {
            type_name,
            default_ttl: Duration::ZERO,
            renew: None,
            revoke: None,
        }
    }

    /// The TTL a secret of this type gets when its response sets none
    /// (zero: the mount's default).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Renews a lease (`req.secret` is the lease). Without it the secret is
    /// not renewable.
    pub fn renew<H: for<'a> RequestFn<'a, B>>(mut self, renew: H) -> Self {
        self.renew = Some(handler::request_hook(renew));
        self
    }

    /// Revokes a lease: undo whatever issuing it created.
    pub fn revoke<H: for<'a> RequestFn<'a, B>>(mut self, revoke: H) -> Self {
        self.revoke = Some(handler::request_hook(revoke));
        self
    }
}

/// A response carrying `data` as a leased secret of type `type_name`;
/// `internal` is kept by the host and handed back on renew and revoke.
///
/// The secret is marked renewable; the framework clears that when the type
/// has no renew handler, and a handler may clear it for one response (as
/// STS credentials, which expire on their own, are issued under a
/// renewable type). A TTL left at zero becomes the type's default.
///
/// ```
/// use vault_plugin_sdk::framework::secret_response;
/// let resp = secret_response("access_keys", serde_json::json!({"access_key": "AKIA"}),
///     serde_json::json!({"username": "vault-web-1"}));
/// assert_eq!(resp.secret.unwrap().internal_data["secret_type"], "access_keys");
/// ```
pub fn secret_response(
    type_name: &str,
    data: serde_json::Value,
    internal: serde_json::Value,
) -> Response {
    let mut internal_data = match internal {
        serde_json::Value::Object(map) => map,
        _ => Map::new(),
    };
    internal_data.insert(SECRET_TYPE_KEY.to_string(), type_name.into());
    let mut resp = Response::with_data(data);
    resp.secret = Some(Secret {
        internal_data,
        lease: LeaseOptions {
            renewable: true,
            ..LeaseOptions::default()
        },
        ..Secret::default()
    });
    resp
}
