use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::{Auth, Map, Secret};
use crate::storage::Storage;

/// What a request asks the backend to do (Go's `logical.Operation`).
///
/// Hosts add operations over time (OpenBao's `scan`, Vault's `recover`), so
/// an unknown one is kept as [`Operation::Other`] rather than refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
    Help,
    AliasLookahead,
    ResolveRole,
    Header,
    Revoke,
    Renew,
    Rollback,
    Other(String),
}

impl Operation {
    /// The name on the wire, e.g. `"alias-lookahead"`.
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Help => "help",
            Operation::AliasLookahead => "alias-lookahead",
            Operation::ResolveRole => "resolve-role",
            Operation::Header => "header",
            Operation::Revoke => "revoke",
            Operation::Renew => "renew",
            Operation::Rollback => "rollback",
            Operation::Other(name) => name,
        }
    }

    /// Parses a wire name; never fails (see [`Operation::Other`]).
    pub fn parse(name: &str) -> Self {
        match name {
            "create" => Operation::Create,
            "read" => Operation::Read,
            "update" => Operation::Update,
            "patch" => Operation::Patch,
            "delete" => Operation::Delete,
            "list" => Operation::List,
            "help" => Operation::Help,
            "alias-lookahead" => Operation::AliasLookahead,
            "resolve-role" => Operation::ResolveRole,
            "header" => Operation::Header,
            "revoke" => Operation::Revoke,
            "renew" => Operation::Renew,
            "rollback" => Operation::Rollback,
            other => Operation::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the client's HTTP request came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    pub remote_addr: String,
    pub remote_port: i32,
}

/// One request routed to this backend by the host.
///
/// `data` and `client_token` may hold secrets: the `Debug` form shows only the
/// names of the data fields and never the token.
#[derive(Clone)]
pub struct Request {
    pub id: String,
    pub operation: Operation,
    /// Relative to the mount, e.g. `role/web`.
    pub path: String,
    pub data: Map,
    pub headers: HashMap<String, Vec<String>>,
    pub client_token: String,
    pub client_token_accessor: String,
    pub display_name: String,
    pub mount_point: String,
    pub mount_type: String,
    pub mount_accessor: String,
    pub entity_id: String,
    pub unauthenticated: bool,
    pub policy_override: bool,
    pub client_token_remaining_uses: i64,
    pub connection: Option<Connection>,
    /// The secret being renewed or revoked.
    pub secret: Option<Secret>,
    /// The auth being renewed.
    pub auth: Option<Auth>,
    /// This mount's storage.
    pub storage: Arc<dyn Storage>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data_fields", &self.data.keys().collect::<Vec<_>>())
            .field("mount_point", &self.mount_point)
            .field("mount_type", &self.mount_type)
            .field("display_name", &self.display_name)
            .field("unauthenticated", &self.unauthenticated)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_round_trip_through_their_wire_names() {
        for name in [
            "create",
            "read",
            "update",
            "patch",
            "delete",
            "list",
            "help",
            "alias-lookahead",
            "resolve-role",
            "header",
            "revoke",
            "renew",
            "rollback",
            "scan",
            "recover",
        ] {
            assert_eq!(Operation::parse(name).as_str(), name);
        }
        assert_eq!(Operation::parse("scan"), Operation::Other("scan".into()));
    }
}
