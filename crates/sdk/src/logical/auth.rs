use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::{LeaseOptions, Map};

/// The kind of token an auth method asks the host to issue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenType {
    /// The mount's configured type.
    #[default]
    Default,
    Service,
    Batch,
    DefaultService,
    DefaultBatch,
}

impl TokenType {
    pub(crate) fn to_wire(self) -> u32 {
        match self {
            TokenType::Default => 0,
            TokenType::Service => 1,
            TokenType::Batch => 2,
            TokenType::DefaultService => 3,
            TokenType::DefaultBatch => 4,
        }
    }

    pub(crate) fn from_wire(value: u32) -> Self {
        match value {
            1 => TokenType::Service,
            2 => TokenType::Batch,
            3 => TokenType::DefaultService,
            4 => TokenType::DefaultBatch,
            _ => TokenType::Default,
        }
    }
}

/// How the identity store knows the user (an entity alias or group alias).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub metadata: HashMap<String, String>,
    pub custom_metadata: HashMap<String, String>,
    /// Filled in by the host.
    pub mount_type: String,
    /// Filled in by the host.
    pub mount_accessor: String,
    pub id: String,
    pub namespace_id: String,
    pub local: bool,
}

/// A successful login (or a renewed one): the host issues a token from it.
#[derive(Clone, Default, PartialEq)]
pub struct Auth {
    pub lease: LeaseOptions,
    /// Kept by the host and handed back on renew.
    pub internal_data: Map,
    pub display_name: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub identity_policies: Vec<String>,
    pub metadata: HashMap<String, String>,
    /// Set by the host once the token exists.
    pub client_token: String,
    pub accessor: String,
    pub period: Duration,
    pub explicit_max_ttl: Duration,
    pub num_uses: i64,
    pub entity_id: String,
    pub alias: Option<Alias>,
    pub group_aliases: Vec<Alias>,
    pub bound_cidrs: Vec<String>,
    pub token_type: TokenType,
    pub no_default_policy: bool,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("lease", &self.lease)
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("token_policies", &self.token_policies)
            .field("metadata", &self.metadata)
            .field("client_token", &"<redacted>")
            .field("accessor", &self.accessor)
            .field("period", &self.period)
            .field("explicit_max_ttl", &self.explicit_max_ttl)
            .field("num_uses", &self.num_uses)
            .field("alias", &self.alias)
            .field("group_aliases", &self.group_aliases)
            .field("bound_cidrs", &self.bound_cidrs)
            .field("token_type", &self.token_type)
            .field("no_default_policy", &self.no_default_policy)
            .finish_non_exhaustive()
    }
}
