//! The edge between wire messages and the SDK's own types. Every error a
//! backend returns becomes Vault's response shape here, and only here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::logical::{
    Alias, Auth, Connection, Error, LeaseOptions, Map, Operation, Request, Response, Secret,
    TokenType,
};
use crate::proto::{logical as lpb, pb};
use crate::storage::Storage;

/// Go's `pb.ErrType*` values.
mod err_type {
    pub const INTERNAL_ERROR: u32 = 2;
    pub const CODED_ERROR: u32 = 3;
    pub const UNSUPPORTED_OPERATION: u32 = 5;
    pub const UNSUPPORTED_PATH: u32 = 6;
    pub const INVALID_REQUEST: u32 = 7;
    pub const PERMISSION_DENIED: u32 = 8;
}

/// A request the plugin cannot even decode.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("request {field} is not valid JSON: {source}")]
    Json {
        field: &'static str,
        source: serde_json::Error,
    },
    /// The decoder's recursion limit keeps hostile input from exhausting the
    /// stack; say so plainly rather than as a parse failure.
    #[error(
        "request {field} is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects"
    )]
    TooDeep { field: &'static str },
}

/// serde_json's recursion limit, counting the outer object.
const MAX_JSON_DEPTH: usize = 128;

fn json_map(field: &'static str, text: &str) -> Result<Map, DecodeError> {
    if text.is_empty() || text == "null" {
        return Ok(Map::new());
    }
    serde_json::from_str(text).map_err(|source| {
        if source.to_string().starts_with("recursion limit exceeded") {
            DecodeError::TooDeep { field }
        } else {
            DecodeError::Json { field, source }
        }
    })
}

/// Always a JSON document: the host decodes these fields unconditionally
/// and fails the request on an empty string ("unexpected end of JSON input").
fn json_text(map: &Map) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

fn nanos_to_duration(n: i64) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(0))
}

fn duration_to_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn secs_to_duration(n: i64) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(0))
}

fn duration_to_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn headers_from_wire(headers: HashMap<String, pb::Header>) -> HashMap<String, Vec<String>> {
    headers.into_iter().map(|(k, v)| (k, v.header)).collect()
}

fn headers_to_wire(headers: &HashMap<String, Vec<String>>) -> HashMap<String, pb::Header> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), pb::Header { header: v.clone() }))
        .collect()
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

fn lease_from_wire(lease: Option<pb::LeaseOptions>) -> LeaseOptions {
    let Some(lease) = lease else {
        return LeaseOptions::default();
    };
    LeaseOptions {
        ttl: nanos_to_duration(lease.ttl),
        max_ttl: nanos_to_duration(lease.max_ttl),
        renewable: lease.renewable,
        increment: nanos_to_duration(lease.increment),
        // Go's zero time (no issue time) is before 1970 and becomes `None`.
        issue_time: lease.issue_time.and_then(|t| {
            let secs = u64::try_from(t.seconds).ok()?;
            let nanos = u32::try_from(t.nanos).ok()?;
            Some(UNIX_EPOCH + Duration::new(secs, nanos))
        }),
    }
}

fn lease_to_wire(lease: &LeaseOptions) -> pb::LeaseOptions {
    pb::LeaseOptions {
        ttl: duration_to_nanos(lease.ttl),
        max_ttl: duration_to_nanos(lease.max_ttl),
        renewable: lease.renewable,
        increment: duration_to_nanos(lease.increment),
        // The host refuses a lease without an issue time ("proto: invalid nil
        // Timestamp"); Go plugins send Go's zero time when there is none.
        issue_time: Some(match lease.issue_time {
            Some(t) => {
                let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
                prost_types::Timestamp {
                    seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
                    nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
                }
            }
            None => prost_types::Timestamp {
                seconds: GO_ZERO_TIME_UNIX,
                nanos: 0,
            },
        }),
    }
}

fn secret_from_wire(secret: pb::Secret) -> Result<Secret, DecodeError> {
    Ok(Secret {
        lease: lease_from_wire(secret.lease_options),
        internal_data: json_map("secret internal data", &secret.internal_data)?,
        lease_id: secret.lease_id,
    })
}

fn secret_to_wire(secret: &Secret) -> pb::Secret {
    pb::Secret {
        lease_options: Some(lease_to_wire(&secret.lease)),
        internal_data: json_text(&secret.internal_data),
        lease_id: secret.lease_id.clone(),
    }
}

fn alias_from_wire(alias: lpb::Alias) -> Alias {
    Alias {
        name: alias.name,
        metadata: alias.metadata,
        custom_metadata: alias.custom_metadata,
        mount_type: alias.mount_type,
        mount_accessor: alias.mount_accessor,
        id: alias.id,
        namespace_id: alias.namespace_id,
        local: alias.local,
    }
}

fn alias_to_wire(alias: &Alias) -> lpb::Alias {
    lpb::Alias {
        mount_type: alias.mount_type.clone(),
        mount_accessor: alias.mount_accessor.clone(),
        name: alias.name.clone(),
        metadata: alias.metadata.clone(),
        id: alias.id.clone(),
        namespace_id: alias.namespace_id.clone(),
        custom_metadata: alias.custom_metadata.clone(),
        local: alias.local,
    }
}

fn auth_from_wire(auth: pb::Auth) -> Result<Auth, DecodeError> {
    Ok(Auth {
        lease: lease_from_wire(auth.lease_options),
        internal_data: json_map("auth internal data", &auth.internal_data)?,
        display_name: auth.display_name,
        policies: auth.policies,
        token_policies: auth.token_policies,
        identity_policies: auth.identity_policies,
        metadata: auth.metadata,
        client_token: auth.client_token,
        accessor: auth.accessor,
        period: secs_to_duration(auth.period),
        explicit_max_ttl: secs_to_duration(auth.explicit_max_ttl),
        num_uses: auth.num_uses,
        entity_id: auth.entity_id,
        alias: auth.alias.map(alias_from_wire),
        group_aliases: auth
            .group_aliases
            .into_iter()
            .map(alias_from_wire)
            .collect(),
        bound_cidrs: auth.bound_cidrs,
        token_type: TokenType::from_wire(auth.token_type),
        no_default_policy: auth.no_default_policy,
    })
}

fn auth_to_wire(auth: &Auth) -> pb::Auth {
    pb::Auth {
        lease_options: Some(lease_to_wire(&auth.lease)),
        internal_data: json_text(&auth.internal_data),
        display_name: auth.display_name.clone(),
        policies: auth.policies.clone(),
        metadata: auth.metadata.clone(),
        client_token: auth.client_token.clone(),
        accessor: auth.accessor.clone(),
        period: duration_to_secs(auth.period),
        num_uses: auth.num_uses,
        entity_id: auth.entity_id.clone(),
        alias: auth.alias.as_ref().map(alias_to_wire),
        group_aliases: auth.group_aliases.iter().map(alias_to_wire).collect(),
        bound_cidrs: auth.bound_cidrs.clone(),
        token_policies: auth.token_policies.clone(),
        identity_policies: auth.identity_policies.clone(),
        explicit_max_ttl: duration_to_secs(auth.explicit_max_ttl),
        token_type: auth.token_type.to_wire(),
        no_default_policy: auth.no_default_policy,
    }
}

/// Builds the SDK's request from the wire message.
pub(crate) fn request_from_wire(
    request: pb::Request,
    storage: Arc<dyn Storage>,
) -> Result<Request, DecodeError> {
    Ok(Request {
        id: request.id,
        operation: Operation::parse(&request.operation),
        path: request.path,
        data: json_map("data", &request.data)?,
        headers: headers_from_wire(request.headers),
        client_token: request.client_token,
        client_token_accessor: request.client_token_accessor,
        display_name: request.display_name,
        mount_point: request.mount_point,
        mount_type: request.mount_type,
        mount_accessor: request.mount_accessor,
        entity_id: request.entity_id,
        unauthenticated: request.unauthenticated,
        policy_override: request.policy_override,
        client_token_remaining_uses: request.client_token_remaining_uses,
        connection: request.connection.map(|c| Connection {
            remote_addr: c.remote_addr,
            remote_port: c.remote_port,
        }),
        secret: request.secret.map(secret_from_wire).transpose()?,
        auth: request.auth.map(auth_from_wire).transpose()?,
        storage,
    })
}

/// Builds the wire response.
pub(crate) fn response_to_wire(response: &Response) -> pb::Response {
    pb::Response {
        secret: response.secret.as_ref().map(secret_to_wire),
        auth: response.auth.as_ref().map(auth_to_wire),
        // Go marshals a response's nil data map as `null`, and clients see
        // `"data": null` rather than `{}` for responses with only warnings.
        data: if response.data.is_empty() {
            "null".to_string()
        } else {
            json_text(&response.data)
        },
        redirect: response.redirect.clone(),
        warnings: response.warnings.clone(),
        wrap_info: None,
        headers: headers_to_wire(&response.headers),
        mount_type: String::new(),
    }
}

/// Turns a backend error into what Vault's HTTP layer expects: a 400 is a
/// response whose data holds `error` plus the invalid-request error type (Go's
/// `logical.ErrorResponse` with `logical.ErrInvalidRequest`); the other kinds
/// are error types the host maps to 403/404/405/coded/500.
pub(crate) fn error_to_wire(error: &Error) -> (Option<pb::Response>, pb::ProtoError) {
    let proto = |err_type, err_msg: String, err_code| pb::ProtoError {
        err_type,
        err_msg,
        err_code,
    };
    match error {
        Error::InvalidRequest(message) => {
            let mut data = Map::new();
            data.insert("error".into(), serde_json::Value::String(message.clone()));
            let response = Response {
                data,
                ..Response::default()
            };
            (
                Some(response_to_wire(&response)),
                proto(err_type::INVALID_REQUEST, "invalid request".into(), 0),
            )
        }
        Error::PermissionDenied => (
            None,
            proto(err_type::PERMISSION_DENIED, error.to_string(), 0),
        ),
        Error::UnsupportedPath => (
            None,
            proto(err_type::UNSUPPORTED_PATH, error.to_string(), 0),
        ),
        Error::UnsupportedOperation => (
            None,
            proto(err_type::UNSUPPORTED_OPERATION, error.to_string(), 0),
        ),
        Error::Coded { status, message } => (
            None,
            proto(err_type::CODED_ERROR, message.clone(), i64::from(*status)),
        ),
        Error::Storage(_) | Error::Internal(_) => {
            (None, proto(err_type::INTERNAL_ERROR, error.to_string(), 0))
        }
    }
}

/// The current time, for tests of lease round trips.
#[cfg(test)]
fn now_rounded() -> std::time::SystemTime {
    let since = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UNIX_EPOCH + Duration::new(since.as_secs(), since.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_request_is_a_400_shaped_response() {
        let (resp, err) = error_to_wire(&Error::invalid("field `ttl`: bad"));
        assert_eq!(err.err_type, err_type::INVALID_REQUEST);
        let data: serde_json::Value =
            serde_json::from_str(&resp.expect("response").data).expect("json");
        assert_eq!(data["error"], "field `ttl`: bad");
    }

    #[test]
    fn coded_errors_carry_their_status() {
        let (resp, err) = error_to_wire(&Error::Coded {
            status: 429,
            message: "slow down".into(),
        });
        assert!(resp.is_none());
        assert_eq!((err.err_type, err.err_code), (err_type::CODED_ERROR, 429));
    }

    #[test]
    fn lease_round_trips() {
        let lease = LeaseOptions {
            ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(7200),
            renewable: true,
            increment: Duration::from_millis(1500),
            issue_time: Some(now_rounded()),
        };
        assert_eq!(lease_from_wire(Some(lease_to_wire(&lease))), lease);
    }

    #[test]
    fn a_lease_without_issue_time_carries_gos_zero_time() {
        let lease = LeaseOptions::default();
        let wire = lease_to_wire(&lease);
        let stamp = wire.issue_time.expect("the host refuses a nil timestamp");
        assert_eq!((stamp.seconds, stamp.nanos), (-62_135_596_800, 0));
        assert_eq!(lease_from_wire(Some(wire)), lease);
    }

    #[test]
    fn auth_round_trips() {
        let mut internal = Map::new();
        internal.insert("role".into(), "web".into());
        let auth = Auth {
            internal_data: internal,
            display_name: "alice".into(),
            policies: vec!["default".into(), "web".into()],
            period: Duration::from_secs(60),
            alias: Some(Alias {
                name: "alice".into(),
                ..Alias::default()
            }),
            bound_cidrs: vec!["127.0.0.1/32".into()],
            token_type: TokenType::Batch,
            ..Auth::default()
        };
        assert_eq!(auth_from_wire(auth_to_wire(&auth)).expect("decode"), auth);
    }

    #[test]
    fn bad_request_json_names_the_field() {
        let err = json_map("data", "{not json").expect_err("must fail");
        assert!(
            err.to_string()
                .starts_with("request data is not valid JSON")
        );
    }
}
