//! A role as stored (`role/<name>`, the reference's JSON, durations in
//! nanoseconds) and read back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use vault_plugin_sdk::framework::token::TokenParams;

pub const ROLE_PREFIX: &str = "role/";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Role {
    #[serde(flatten)]
    pub token: TokenParams,
    pub role_type: String,
    /// Nanoseconds, as Go's `time.Duration`; 0 means the default, negative
    /// means none.
    pub expiration_leeway: i64,
    pub not_before_leeway: i64,
    pub clock_skew_leeway: i64,
    pub bound_audiences: Option<Vec<String>>,
    pub bound_subject: String,
    pub bound_claims_type: String,
    pub bound_claims: Option<Map<String, Value>>,
    pub claim_mappings: Option<BTreeMap<String, String>>,
    pub user_claim: String,
    pub groups_claim: String,
    pub oidc_scopes: Option<Vec<String>>,
    pub allowed_redirect_uris: Option<Vec<String>>,
    pub verbose_oidc_logging: bool,
    /// Nanoseconds.
    pub max_age: i64,
    pub user_claim_json_pointer: bool,
    /// The deprecated `num_uses` (the other deprecated names live in
    /// [`TokenParams`]).
    pub num_uses: i64,
}

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Role {
    /// As the reference loads a role: legacy roles are `jwt` roles with
    /// `string` bound claims, and values kept under deprecated names count
    /// as the new ones.
    pub fn normalized(mut self) -> Self {
        if self.role_type.is_empty() {
            self.role_type = "jwt".into();
        }
        if self.bound_claims_type.is_empty() {
            self.bound_claims_type = "string".into();
        }
        if self.token.token_num_uses == 0 && self.num_uses > 0 {
            self.token.token_num_uses = self.num_uses;
        }
        self
    }

    pub fn secs(nanos: i64) -> i64 {
        nanos / NANOS_PER_SEC
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.max_age).unwrap_or(0))
    }

    /// The data a read returns.
    pub fn to_data(&self) -> Map<String, Value> {
        let mut d = Map::new();
        d.insert("role_type".into(), json!(self.role_type));
        d.insert(
            "expiration_leeway".into(),
            json!(Self::secs(self.expiration_leeway)),
        );
        d.insert(
            "not_before_leeway".into(),
            json!(Self::secs(self.not_before_leeway)),
        );
        d.insert(
            "clock_skew_leeway".into(),
            json!(Self::secs(self.clock_skew_leeway)),
        );
        d.insert("bound_audiences".into(), json!(self.bound_audiences));
        d.insert("bound_subject".into(), json!(self.bound_subject));
        d.insert("bound_claims_type".into(), json!(self.bound_claims_type));
        d.insert("bound_claims".into(), json!(self.bound_claims));
        d.insert("claim_mappings".into(), json!(self.claim_mappings));
        d.insert("user_claim".into(), json!(self.user_claim));
        d.insert(
            "user_claim_json_pointer".into(),
            json!(self.user_claim_json_pointer),
        );
        d.insert("groups_claim".into(), json!(self.groups_claim));
        d.insert(
            "allowed_redirect_uris".into(),
            json!(self.allowed_redirect_uris),
        );
        d.insert("oidc_scopes".into(), json!(self.oidc_scopes));
        d.insert(
            "verbose_oidc_logging".into(),
            json!(self.verbose_oidc_logging),
        );
        d.insert("max_age".into(), json!(Self::secs(self.max_age)));
        self.token.populate_data(&mut d);
        if self.num_uses > 0 {
            d.insert("num_uses".into(), json!(self.num_uses));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_the_go_plugin_stored_loads_with_its_settings() {
        let stored = r#"{"token_bound_cidrs":["10.0.0.0/8"],"token_explicit_max_ttl":0,"token_max_ttl":0,"token_no_default_policy":false,"token_num_uses":0,"token_period":0,"token_policies":null,"token_type":0,"token_ttl":3600000000000,"token_strictly_bind_ip":false,"role_type":"jwt","expiration_leeway":300000000000,"not_before_leeway":0,"clock_skew_leeway":-1000000000,"bound_audiences":["a"],"bound_subject":"","bound_claims_type":"string","bound_claims":{"x":[1,"y"]},"claim_mappings":{"a":"b"},"oauth2_metadata":null,"user_claim":"sub","groups_claim":"","oidc_scopes":null,"allowed_redirect_uris":null,"callback_mode":"client","poll_interval":0,"verbose_oidc_logging":false,"max_age":3600000000000,"user_claim_json_pointer":false,"token_policies_template_claims":false,"oidc_disable_confirmation":false,"policies":["old"],"num_uses":3,"ttl":0,"max_ttl":0,"period":0,"bound_cidrs":null}"#;
        let role: Role = serde_json::from_str::<Role>(stored)
            .expect("decodes")
            .normalized();
        assert_eq!(role.token.token_ttl, Duration::from_secs(3600));
        assert_eq!(role.expiration_leeway, 300 * NANOS_PER_SEC);
        assert_eq!(role.clock_skew_leeway, -NANOS_PER_SEC);
        assert_eq!(role.token.token_num_uses, 3);
        let data = role.to_data();
        assert_eq!(data["expiration_leeway"], 300);
        assert_eq!(data["clock_skew_leeway"], -1);
        assert_eq!(data["max_age"], 3600);
        assert_eq!(data["token_policies"], json!(["old"]));
        assert_eq!(data["policies"], json!(["old"]));
        assert_eq!(data["bound_claims"], json!({"x": [1, "y"]}));
        assert_eq!(data["oidc_scopes"], Value::Null);
    }
}
