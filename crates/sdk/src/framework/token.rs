//! Token settings every auth method shares (Go's `sdk/helper/tokenutil`):
//! the `token_*` fields, declared once and added to a role or config path
//! with one call, parsed with Vault's rules and error texts, stored in Go's
//! JSON layout (durations in nanoseconds) so entries written by a Go plugin
//! load unchanged, and applied to the [`Auth`] of a login.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use super::field::Field;
use super::field_data::FieldData;
use crate::logical::{Auth, Error, Map, TokenType};

/// Durations as Go's `time.Duration` stores them: JSON nanoseconds.
mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = i64::deserialize(d)?;
        Ok(Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
    }
}

/// The stored token settings of a role or config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenParams {
    #[serde(deserialize_with = "null_as_empty")]
    pub token_bound_cidrs: Vec<String>,
    #[serde(with = "nanos")]
    pub token_explicit_max_ttl: Duration,
    #[serde(with = "nanos")]
    pub token_max_ttl: Duration,
    pub token_no_default_policy: bool,
    pub token_num_uses: i64,
    #[serde(with = "nanos")]
    pub token_period: Duration,
    #[serde(deserialize_with = "null_as_empty")]
    pub token_policies: Vec<String>,
    #[serde(with = "token_type_code")]
    pub token_type: TokenType,
    #[serde(with = "nanos")]
    pub token_ttl: Duration,
    /// What the role holds under the deprecated names, as Go stores it.
    #[serde(flatten)]
    pub legacy: LegacyTokenParams,
}

/// Values kept under the deprecated names (`ttl`, `max_ttl`, `period`,
/// `policies`, `bound_cidrs`). Roles written before the `token_*` names
/// exist only here; Vault reads them as the new values when those are unset,
/// and returns them on read only while they are set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyTokenParams {
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub ttl: Duration,
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub max_ttl: Duration,
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub period: Duration,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub policies: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub bound_cidrs: Vec<String>,
}

/// Go writes a nil slice as `null`.
fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Go stores a token type as its number; older entries hold its name.
mod token_type_code {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::logical::TokenType;

    pub fn serialize<S: Serializer>(t: &TokenType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(t.to_wire())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TokenType, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => Ok(TokenType::from_wire(
                u32::try_from(n.as_u64().unwrap_or(0)).unwrap_or(0),
            )),
            serde_json::Value::String(s) => super::parse_token_type_name(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown token type {s:?}"))),
            _ => Ok(TokenType::Default),
        }
    }
}

fn parse_token_type_name(name: &str) -> Option<TokenType> {
    Some(match name {
        "" | "default" => TokenType::Default,
        "service" => TokenType::Service,
        "batch" => TokenType::Batch,
        "default-service" => TokenType::DefaultService,
        "default-batch" => TokenType::DefaultBatch,
        _ => return None,
    })
}

fn token_type_name(t: TokenType) -> &'static str {
    match t {
        TokenType::Default => "default",
        TokenType::Service => "service",
        TokenType::Batch => "batch",
        TokenType::DefaultService => "default-service",
        TokenType::DefaultBatch => "default-batch",
    }
}

const PERIOD_HELP: &str = "If set, tokens created via this role will have no max lifetime; instead, \
their renewal period will be fixed to this value. This takes an integer number of seconds, or a \
string duration (e.g. \"24h\").";
const EXPLICIT_MAX_TTL_HELP: &str = "If set, tokens created via this role carry an explicit maximum \
TTL. During renewal, the current maximum TTL values of the role and the mount are not checked for \
changes, and any updates to these values will have no effect on the token being renewed.";

/// The `token_*` fields, as Vault declares them.
pub fn fields() -> Vec<Field> {
    let group = |f: Field| f.display_group("Tokens");
    vec![
        group(Field::comma_string_slice("token_bound_cidrs").description(
            "Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP \
             addresses which are allowed to use the generated token.",
        ))
        .display_name("Generated Token's Bound CIDRs"),
        group(Field::duration("token_explicit_max_ttl").description(EXPLICIT_MAX_TTL_HELP))
            .display_name("Generated Token's Explicit Maximum TTL"),
        group(Field::duration("token_max_ttl").description("The maximum lifetime of the generated token"))
            .display_name("Generated Token's Maximum TTL"),
        group(Field::bool("token_no_default_policy").description(
            "If true, the 'default' policy will not automatically be added to generated tokens",
        ))
        .display_name("Do Not Attach 'default' Policy To Generated Tokens"),
        group(Field::duration("token_period").description(PERIOD_HELP))
            .display_name("Generated Token's Period"),
        group(Field::comma_string_slice("token_policies").description("Comma-separated list of policies"))
            .display_name("Generated Token's Policies"),
        group(
            Field::string("token_type")
                .default("default-service")
                .description("The type of token to generate, service or batch"),
        )
        .display_name("Generated Token's Type"),
        group(Field::duration("token_ttl").description("The initial ttl of the token to generate"))
            .display_name("Generated Token's Initial TTL"),
        group(Field::int("token_num_uses").description(
            "The maximum number of times a token may be used, a value of zero means unlimited",
        ))
        .display_name("Maximum Uses of Generated Tokens"),
    ]
}

/// The deprecated names and the `token_*` field each stands for.
pub const DEPRECATED_NAMES: [(&str, &str); 5] = [
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("period", "token_period"),
    ("policies", "token_policies"),
    ("bound_cidrs", "token_bound_cidrs"),
];

/// The deprecated fields (`ttl`, `max_ttl`, `period`, `policies`,
/// `bound_cidrs`), for roles that accepted them before the `token_*` names.
pub fn deprecated_fields() -> Vec<Field> {
    let text = |new: &str| {
        format!(
            "Use {new:?} instead. If this and {new:?} are both specified, only {new:?} will be used."
        )
    };
    vec![
        Field::duration("ttl")
            .description(text("token_ttl"))
            .deprecated(),
        Field::duration("max_ttl")
            .description(text("token_max_ttl"))
            .deprecated(),
        Field::duration("period")
            .description(text("token_period"))
            .deprecated(),
        Field::comma_string_slice("policies")
            .description(text("token_policies"))
            .deprecated(),
        Field::comma_string_slice("bound_cidrs")
            .description(text("token_bound_cidrs"))
            .deprecated(),
    ]
}

fn check_cidrs(items: &[String]) -> Result<(), Error> {
    items
        .iter()
        .try_for_each(|item| super::parse::check_address(item).map_err(Error::invalid))
}

impl TokenParams {
    /// Applies the request's `token_*` fields on top of the stored values
    /// (fields the request omits keep their value), then the deprecated
    /// names where the path declares them, with Vault's upgrade rules: a new
    /// name wins over its old one, an old name alone sets the new one.
    pub fn parse(&mut self, data: &FieldData) -> Result<(), Error> {
        *self = self.effective();
        if let Some(cidrs) = data.get_ok::<Vec<String>>("token_bound_cidrs")? {
            check_cidrs(&cidrs)?;
            self.token_bound_cidrs = cidrs;
        }
        if let Some(v) = data.get_ok("token_explicit_max_ttl")? {
            self.token_explicit_max_ttl = v;
        }
        if let Some(v) = data.get_ok("token_max_ttl")? {
            self.token_max_ttl = v;
        }
        if let Some(v) = data.get_ok("token_no_default_policy")? {
            self.token_no_default_policy = v;
        }
        if let Some(v) = data.get_ok("token_period")? {
            self.token_period = v;
        }
        if let Some(v) = data.get_ok("token_policies")? {
            self.token_policies = v;
        }
        if let Some(name) = data.get_ok::<String>("token_type")? {
            self.token_type = match name.as_str() {
                "" | "default" => TokenType::Default,
                "service" => TokenType::Service,
                "batch" => TokenType::Batch,
                other => {
                    return Err(Error::invalid(format!(
                        "invalid 'token_type' value {other:?}"
                    )));
                }
            };
        }
        if let Some(uses) = data.get_ok::<i64>("token_num_uses")? {
            if uses < 0 {
                return Err(Error::invalid("'token_num_uses' cannot be negative"));
            }
            self.token_num_uses = uses;
        }
        if matches!(self.token_type, TokenType::Batch | TokenType::DefaultBatch) {
            if !self.token_period.is_zero() {
                return Err(Error::invalid(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
                ));
            }
            if self.token_num_uses != 0 {
                return Err(Error::invalid(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count",
                ));
            }
        }
        if let Some(v) = data.get_ok("token_ttl")? {
            self.token_ttl = v;
        }
        if !self.token_ttl.is_zero()
            && !self.token_max_ttl.is_zero()
            && self.token_ttl > self.token_max_ttl
        {
            return Err(Error::invalid(
                "'token_ttl' cannot be greater than 'token_max_ttl'",
            ));
        }
        self.upgrade_deprecated(data)
    }

    /// Vault's `tokenutil.UpgradeValue` for each deprecated name the path
    /// declares: a new name given wins and the old value mirrors it (or is
    /// cleared when the old name was not sent); an old name alone sets both.
    fn upgrade_deprecated(&mut self, data: &FieldData) -> Result<(), Error> {
        let declared = |name: &str| data.get_ok::<serde_json::Value>(name).is_ok();
        for (old, new) in DEPRECATED_NAMES {
            if !declared(old) {
                continue;
            }
            let (old_given, new_given) = (data.contains(old), data.contains(new));
            if !old_given && !new_given {
                continue;
            }
            let legacy = &mut self.legacy;
            match (new, new_given) {
                ("token_ttl", true) => {
                    legacy.ttl = if old_given {
                        self.token_ttl
                    } else {
                        Duration::ZERO
                    }
                }
                ("token_max_ttl", true) => {
                    legacy.max_ttl = if old_given {
                        self.token_max_ttl
                    } else {
                        Duration::ZERO
                    }
                }
                ("token_period", true) => {
                    legacy.period = if old_given {
                        self.token_period
                    } else {
                        Duration::ZERO
                    }
                }
                ("token_policies", true) => {
                    legacy.policies = if old_given {
                        self.token_policies.clone()
                    } else {
                        Vec::new()
                    }
                }
                ("token_bound_cidrs", true) => {
                    legacy.bound_cidrs = if old_given {
                        self.token_bound_cidrs.clone()
                    } else {
                        Vec::new()
                    }
                }
                ("token_ttl", false) => {
                    legacy.ttl = data.get(old)?;
                    self.token_ttl = legacy.ttl;
                }
                ("token_max_ttl", false) => {
                    legacy.max_ttl = data.get(old)?;
                    self.token_max_ttl = legacy.max_ttl;
                }
                ("token_period", false) => {
                    legacy.period = data.get(old)?;
                    self.token_period = legacy.period;
                }
                ("token_policies", false) => {
                    legacy.policies = sanitize_policies(data.get(old)?);
                    self.token_policies = legacy.policies.clone();
                }
                (_, _) => {
                    let cidrs: Vec<String> = data.get(old)?;
                    check_cidrs(&cidrs)?;
                    legacy.bound_cidrs = cidrs.clone();
                    self.token_bound_cidrs = cidrs;
                }
            }
        }
        Ok(())
    }

    /// The settings with values stored only under deprecated names moved to
    /// the `token_*` ones, as Vault upgrades a role when it loads it.
    pub fn effective(&self) -> TokenParams {
        let mut out = self.clone();
        let legacy = &self.legacy;
        if out.token_ttl.is_zero() {
            out.token_ttl = legacy.ttl;
        }
        if out.token_max_ttl.is_zero() {
            out.token_max_ttl = legacy.max_ttl;
        }
        if out.token_period.is_zero() {
            out.token_period = legacy.period;
        }
        if out.token_policies.is_empty() {
            out.token_policies = legacy.policies.clone();
        }
        if out.token_bound_cidrs.is_empty() {
            out.token_bound_cidrs = legacy.bound_cidrs.clone();
        }
        out
    }

    /// The `token_*` keys a read of the role or config returns.
    pub fn populate_data(&self, data: &mut Map) {
        let this = self.effective();
        let this = &this;
        let secs = |d: Duration| json!(d.as_secs());
        data.insert("token_bound_cidrs".into(), json!(this.token_bound_cidrs));
        data.insert(
            "token_explicit_max_ttl".into(),
            secs(this.token_explicit_max_ttl),
        );
        data.insert("token_max_ttl".into(), secs(this.token_max_ttl));
        data.insert(
            "token_no_default_policy".into(),
            json!(this.token_no_default_policy),
        );
        data.insert("token_period".into(), secs(this.token_period));
        data.insert("token_policies".into(), json!(this.token_policies));
        data.insert("token_type".into(), json!(token_type_name(this.token_type)));
        data.insert("token_ttl".into(), secs(this.token_ttl));
        data.insert("token_num_uses".into(), json!(this.token_num_uses));
        // The deprecated names appear only while a value is kept under them.
        let legacy = &self.legacy;
        if !legacy.ttl.is_zero() {
            data.insert("ttl".into(), secs(legacy.ttl));
        }
        if !legacy.max_ttl.is_zero() {
            data.insert("max_ttl".into(), secs(legacy.max_ttl));
        }
        if !legacy.period.is_zero() {
            data.insert("period".into(), secs(legacy.period));
        }
        if !legacy.policies.is_empty() {
            data.insert("policies".into(), json!(this.token_policies));
        }
        if !legacy.bound_cidrs.is_empty() {
            data.insert("bound_cidrs".into(), json!(legacy.bound_cidrs));
        }
    }

    /// Applies the settings to a login's auth: policies, TTLs, period,
    /// bound CIDRs, use count, token type; the token is renewable.
    pub fn populate_auth(&self, auth: &mut Auth) {
        let this = self.effective();
        let this = &this;
        auth.bound_cidrs = this.token_bound_cidrs.clone();
        auth.explicit_max_ttl = this.token_explicit_max_ttl;
        auth.lease.max_ttl = this.token_max_ttl;
        auth.no_default_policy = this.token_no_default_policy;
        auth.period = this.token_period;
        auth.policies = this.token_policies.clone();
        auth.lease.renewable = true;
        auth.token_type = this.token_type;
        auth.lease.ttl = this.token_ttl;
        auth.num_uses = this.token_num_uses;
    }
}

/// Go's `policyutil.ParsePolicies` for the deprecated `policies` field:
/// trimmed, lowercased, no empties, sorted and deduplicated; `root` alone
/// if present.
pub fn sanitize_policies(policies: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = policies
        .into_iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn data(raw: serde_json::Value) -> FieldData {
        let mut schema = fields();
        schema.extend(deprecated_fields());
        FieldData::new(
            raw.as_object().cloned().unwrap_or_default(),
            Arc::new(schema),
        )
    }

    fn parsed(raw: serde_json::Value) -> Result<TokenParams, Error> {
        let mut params = TokenParams::default();
        params.parse(&data(raw))?;
        Ok(params)
    }

    #[test]
    fn fields_parse_and_apply() {
        let p = parsed(json!({
            "token_ttl": "1h", "token_max_ttl": 7200, "token_policies": "a, b",
            "token_bound_cidrs": ["127.0.0.1/32"], "token_type": "service", "token_num_uses": 3,
        }))
        .expect("valid");
        assert_eq!(p.token_ttl, Duration::from_secs(3600));
        assert_eq!(p.token_policies, vec!["a", "b"]);
        let mut auth = Auth::default();
        p.populate_auth(&mut auth);
        assert_eq!(auth.lease.max_ttl, Duration::from_secs(7200));
        assert_eq!(auth.bound_cidrs, vec!["127.0.0.1/32"]);
        assert_eq!(auth.num_uses, 3);
        assert!(auth.lease.renewable);
        let mut map = Map::new();
        p.populate_data(&mut map);
        assert_eq!(map["token_ttl"], 3600);
        assert_eq!(map["token_type"], "service");
    }

    #[test]
    fn vaults_validation_and_messages() {
        for (input, message) in [
            (
                json!({"token_type": "default-service"}),
                "invalid 'token_type' value \"default-service\"",
            ),
            (
                json!({"token_num_uses": -1}),
                "'token_num_uses' cannot be negative",
            ),
            (
                json!({"token_type": "batch", "token_period": 60}),
                "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
            ),
            (
                json!({"token_ttl": 10, "token_max_ttl": 5}),
                "'token_ttl' cannot be greater than 'token_max_ttl'",
            ),
            (
                json!({"token_bound_cidrs": "nonsense"}),
                "error parsing address \"nonsense\": Unable to convert \"nonsense\" to an IPv4 or IPv6 address, or a UNIX Socket",
            ),
        ] {
            let err = parsed(input.clone()).expect_err("invalid");
            assert_eq!(err.to_string(), message, "{input}");
        }
    }

    #[test]
    fn deprecated_names_upgrade_as_vault_does() {
        // An old name alone sets the new value and is kept (and shown).
        let p = parsed(json!({"ttl": 60, "policies": "B,a,a"})).expect("valid");
        assert_eq!(p.token_ttl, Duration::from_secs(60));
        assert_eq!(p.token_policies, vec!["a", "b"]);
        let mut read = Map::new();
        p.populate_data(&mut read);
        assert_eq!(read["ttl"], 60);
        assert_eq!(read["policies"], json!(["a", "b"]));
        // Both given: the new name wins and the old mirrors it.
        let p = parsed(json!({"ttl": 60, "token_ttl": 90})).expect("valid");
        assert_eq!(
            (p.token_ttl, p.legacy.ttl),
            (Duration::from_secs(90), Duration::from_secs(90))
        );
        // The new name alone clears the old value: it is no longer shown.
        let mut p = parsed(json!({"ttl": 60})).expect("valid");
        p.parse(&data(json!({"token_ttl": 30}))).expect("valid");
        assert_eq!(
            (p.token_ttl, p.legacy.ttl),
            (Duration::from_secs(30), Duration::ZERO)
        );
        let mut read = Map::new();
        p.populate_data(&mut read);
        assert!(read.get("ttl").is_none());
    }

    #[test]
    fn a_role_stored_by_go_with_only_old_names_keeps_its_settings() {
        let stored =
            json!({"policies": ["dev"], "ttl": 60_000_000_000i64, "bound_cidrs": ["10.0.0.0/8"]});
        let params: TokenParams = serde_json::from_value(stored).expect("decode");
        let mut auth = Auth::default();
        params.populate_auth(&mut auth);
        assert_eq!(auth.policies, vec!["dev"]);
        assert_eq!(auth.lease.ttl, Duration::from_secs(60));
        assert_eq!(auth.bound_cidrs, vec!["10.0.0.0/8"]);
        let mut read = Map::new();
        params.populate_data(&mut read);
        assert_eq!(read["token_policies"], json!(["dev"]));
        assert_eq!(read["policies"], json!(["dev"]));
        assert_eq!(read["token_ttl"], 60);
        // Written back, both names are kept, as Go keeps them.
        let again = serde_json::to_value(&params).expect("encode");
        assert_eq!(again["policies"], json!(["dev"]));
    }

    #[test]
    fn stored_like_go() {
        let p = parsed(json!({"token_ttl": 1, "token_type": "batch"})).expect("valid");
        let stored = serde_json::to_value(&p).expect("encode");
        assert_eq!(stored["token_ttl"], 1_000_000_000i64);
        assert_eq!(stored["token_type"], 2);
        let back: TokenParams =
            serde_json::from_value(json!({"token_ttl": 2_000_000_000i64, "token_type": "service"}))
                .expect("decode");
        assert_eq!(back.token_ttl, Duration::from_secs(2));
        assert_eq!(back.token_type, TokenType::Service);
    }
}
