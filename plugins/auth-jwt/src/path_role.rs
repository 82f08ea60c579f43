//! `role/<name>` and `role/`: what a token must carry to log in, and the
//! token settings a login gets.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};
use vault_plugin_sdk::framework::token::{self};
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path, pattern};
use vault_plugin_sdk::logical::{Error, Operation, Request, Response};

use crate::backend::JwtAuth;
use crate::claims::go_format;
use crate::role::{NANOS_PER_SEC, ROLE_PREFIX, Role};

pub fn paths() -> Vec<Path<JwtAuth>> {
    vec![
        Path::new("role/?").list(list_roles).help(
            "Lists all the roles registered with the backend.",
            "The list will contain the names of the roles.",
        ),
        Path::new(format!("role/{}", pattern::generic_name("name")))
            .fields(fields())
            .fields(token::fields())
            .fields(token::deprecated_fields())
            .field(
                Field::int("num_uses")
                    .description(
                        "Use \"token_num_uses\" instead. If this and \"token_num_uses\" are both \
                         specified, only \"token_num_uses\" will be used.",
                    )
                    .deprecated(),
            )
            .existence(role_exists)
            .read(read_role)
            .write(write_role)
            .delete(delete_role)
            .help(
                "Register an role with the backend.",
                "A role is required to authenticate with this backend. The role binds JWT token \
                 information with token policies and settings. The bindings, token polices and \
                 token settings can all be configured using this endpoint",
            ),
    ]
}

fn fields() -> Vec<Field> {
    let leeway = |name: &'static str, what: &str, default: i64| {
        Field::signed_duration(name)
            .description(format!(
                "Duration in seconds of leeway when validating {what} of a token to account for \
                 clock skew. Defaults to {default} if set to 0 and can be disabled if set to -1."
            ))
            .default(default)
    };
    vec![
        Field::lowercase_string("name").description("Name of the role."),
        Field::string("role_type").description("Type of the role, either 'jwt' or 'oidc'."),
        leeway("expiration_leeway", "expiration", 150),
        leeway("not_before_leeway", "not before values", 150),
        leeway("clock_skew_leeway", "all claims", 60),
        Field::string("bound_subject").description("The 'sub' claim that is valid for login. Optional."),
        Field::comma_string_slice("bound_audiences").description(
            "Comma-separated list of 'aud' claims that are valid for login; any match is sufficient",
        ),
        Field::string("bound_claims_type")
            .description(
                "How to interpret values in the map of claims/values (which must match for \
                 login): allowed values are 'string' or 'glob'",
            )
            .default("string"),
        Field::map("bound_claims").description("Map of claims/values which must match for login"),
        Field::kv_pairs("claim_mappings").description(
            "Mappings of claims (key) that will be copied to a metadata field (value)",
        ),
        Field::string("user_claim")
            .description("The claim to use for the Identity entity alias name"),
        Field::bool("user_claim_json_pointer").description(
            "If true, the user_claim value will use JSON pointer syntax for referencing claims.",
        ),
        Field::string("groups_claim")
            .description("The claim to use for the Identity group alias names"),
        Field::comma_string_slice("oidc_scopes").description("Comma-separated list of OIDC scopes"),
        Field::comma_string_slice("allowed_redirect_uris")
            .description("Comma-separated list of allowed values for redirect_uri"),
        Field::bool("verbose_oidc_logging").description(
            "Log received OIDC tokens and claims when debug-level logging is active. Not \
             recommended in production since sensitive information may be present in OIDC \
             responses.",
        ),
        Field::duration("max_age").description(
            "Specifies the allowable elapsed time in seconds since the last time the user was \
             actively authenticated.",
        ),
    ]
}

fn key(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

async fn role_exists(backend: &JwtAuth, req: &Request, data: &FieldData) -> Result<bool, Error> {
    let name: String = data.get("name")?;
    Ok(backend.role(req.storage.as_ref(), &name).await?.is_some())
}

async fn list_roles(_: &JwtAuth, req: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    let keys = req.storage.list(ROLE_PREFIX).await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

async fn read_role(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let Some(role) = backend.role(req.storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    Ok(Some(Response {
        data: role.to_data(),
        ..Response::default()
    }))
}

async fn delete_role(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    req.storage.delete(&key(&name)).await?;
    backend.forget_role(&name);
    Ok(None)
}

/// Go's `time.Duration.String()` for whole seconds, for the period message.
fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

async fn write_role(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let mut role = match backend.role(req.storage.as_ref(), &name).await? {
        Some(role) => (*role).clone(),
        None if req.operation == Operation::Update => {
            return Err(Error::internal(
                "role entry not found during update operation",
            ));
        }
        None => Role::default(),
    };

    let role_type: String = data.get("role_type")?;
    let role_type = if role_type.is_empty() {
        "oidc".to_string()
    } else {
        role_type
    };
    if role_type != "jwt" && role_type != "oidc" {
        return Err(Error::invalid(format!("invalid 'role_type': {role_type}")));
    }
    role.role_type = role_type.clone();

    role.token.parse(data)?;
    if let Some(uses) = data.get_ok::<i64>("num_uses")? {
        if data.contains("token_num_uses") {
            role.num_uses = role.token.token_num_uses;
        } else {
            if uses < 0 {
                return Err(Error::invalid("'token_num_uses' cannot be negative"));
            }
            role.num_uses = uses;
            role.token.token_num_uses = uses;
        }
    } else if data.contains("token_num_uses") {
        role.num_uses = 0;
    }

    let max_lease = backend
        .system
        .max_lease_ttl()
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    if role.token.token_period > max_lease {
        return Err(Error::invalid(format!(
            "'period' of '\"{}\"' is greater than the backend's maximum lease TTL of '\"{}\"'",
            go_duration(role.token.token_period.as_secs()),
            go_duration(max_lease.as_secs())
        )));
    }

    for (field, slot) in [
        ("expiration_leeway", &mut role.expiration_leeway),
        ("not_before_leeway", &mut role.not_before_leeway),
        ("clock_skew_leeway", &mut role.clock_skew_leeway),
    ] {
        if let Some(secs) = data.get_ok::<i64>(field)? {
            *slot = secs.saturating_mul(NANOS_PER_SEC);
        }
    }
    if let Some(v) = data.get_ok::<Vec<String>>("bound_audiences")? {
        role.bound_audiences = Some(v);
    }
    if let Some(v) = data.get_ok::<String>("bound_subject")? {
        role.bound_subject = v;
    }
    if let Some(v) = data.get_ok::<bool>("verbose_oidc_logging")? {
        role.verbose_oidc_logging = v;
    }
    if let Some(secs) = data.get_ok::<i64>("max_age")? {
        role.max_age = secs.saturating_mul(NANOS_PER_SEC);
    }

    let bound_claims_type: String = data.get("bound_claims_type")?;
    if bound_claims_type != "string" && bound_claims_type != "glob" {
        return Err(Error::invalid(format!(
            "invalid 'bound_claims_type': {bound_claims_type}"
        )));
    }
    role.bound_claims_type = bound_claims_type.clone();
    if let Some(bound) = data.get_ok::<Map<String, Value>>("bound_claims")? {
        if bound_claims_type == "glob" {
            check_glob_claims(&bound)?;
        }
        role.bound_claims = Some(bound);
    }

    if let Some(mappings) = data.get_ok::<BTreeMap<String, String>>("claim_mappings")? {
        let mut targets = HashSet::new();
        for target in mappings.values() {
            if target == "role" {
                return Err(Error::invalid(format!(
                    "metadata key {target:?} is reserved and may not be a mapping destination"
                )));
            }
            if !targets.insert(target) {
                return Err(Error::invalid(format!(
                    "multiple keys are mapped to metadata key {target:?}"
                )));
            }
        }
        role.claim_mappings = Some(mappings);
    }

    if let Some(v) = data.get_ok::<String>("user_claim")? {
        role.user_claim = v;
    }
    if role.user_claim.is_empty() {
        return Err(Error::invalid("a user claim must be defined on the role"));
    }
    if let Some(v) = data.get_ok::<bool>("user_claim_json_pointer")? {
        role.user_claim_json_pointer = v;
    }
    if let Some(v) = data.get_ok::<String>("groups_claim")? {
        role.groups_claim = v;
    }
    if let Some(v) = data.get_ok::<Vec<String>>("oidc_scopes")? {
        role.oidc_scopes = Some(v);
    }
    if let Some(v) = data.get_ok::<Vec<String>>("allowed_redirect_uris")? {
        role.allowed_redirect_uris = Some(v);
    }

    if role.role_type == "oidc"
        && role
            .allowed_redirect_uris
            .as_ref()
            .is_none_or(Vec::is_empty)
    {
        return Err(Error::invalid(
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
        ));
    }
    if role.role_type != "oidc" {
        let none = |v: &Option<Vec<String>>| v.as_ref().is_none_or(Vec::is_empty);
        if none(&role.bound_audiences)
            && role.token.effective().token_bound_cidrs.is_empty()
            && role.bound_subject.is_empty()
            && role.bound_claims.as_ref().is_none_or(Map::is_empty)
        {
            return Err(Error::invalid(
                "must have at least one bound constraint when creating/updating a role",
            ));
        }
    }
    let effective = role.token.effective();
    if !effective.token_max_ttl.is_zero() && effective.token_ttl > effective.token_max_ttl {
        return Err(Error::invalid("ttl should not be greater than max ttl"));
    }

    let mut resp = Response::default();
    if effective.token_max_ttl > max_lease {
        resp.warnings.push(
            "token max ttl is greater than the system or backend mount's maximum TTL value; \
             issued tokens' max TTL value will be truncated"
                .into(),
        );
    }
    if role.verbose_oidc_logging {
        resp.warnings.push(
            "verbose_oidc_logging has been enabled for this role. This is not recommended in \
             production since sensitive information may be present in OIDC responses."
                .into(),
        );
    }

    req.storage.put_json(&key(&name), &role).await?;
    backend.forget_role(&name);
    Ok((!resp.warnings.is_empty()).then_some(resp))
}

/// Glob bound claims must be strings or lists of strings.
fn check_glob_claims(bound: &Map<String, Value>) -> Result<(), Error> {
    for value in bound.values() {
        let items = match value {
            Value::Array(items) => items.clone(),
            Value::String(_) | Value::Bool(_) | Value::Number(_) => vec![value.clone()],
            other => {
                return Err(Error::invalid(format!(
                    "claim is not a string or list: {}",
                    go_format(other)
                )));
            }
        };
        if let Some(bad) = items.iter().find(|v| !v.is_string()) {
            return Err(Error::invalid(format!(
                "claim is not a string: {}",
                go_format(bad)
            )));
        }
    }
    Ok(())
}
