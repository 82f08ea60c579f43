//! `login/:username`: a password in, an auth out, with policies from the
//! user's LDAP groups, local groups and user entry. Unauthenticated.

use std::collections::HashMap;

use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, Path, cidr, pattern};
use vault_plugin_sdk::logical::{Alias, Auth, Error, Operation, Request, Response};

use crate::backend::{Active, LdapAuth};
use crate::directory::{LoginError, authenticate};
use crate::path_groups::{GROUP_PREFIX, GroupEntry};
use crate::path_users::{USER_PREFIX, UserEntry};

pub fn paths() -> Vec<Path<LdapAuth>> {
    vec![
        Path::new(format!("login/{}", pattern::match_all("username")))
            .field(
                Field::string("username")
                    .description("DN (distinguished name) to be used for login."),
            )
            .field(
                Field::string("password")
                    .description("Password for this user.")
                    .sensitive(),
            )
            .update(login)
            .on(Operation::AliasLookahead, alias_lookahead)
            .help(
                "Log in with a username and password.",
                "This endpoint authenticates using a username and password. Please be sure to \
                 read the note on escaping from the path-help for the 'config' endpoint.",
            ),
    ]
}

/// The username as the reference normalises it: trimmed (some servers
/// ignore surrounding spaces, which would dodge lockouts keyed on the
/// alias: CVE-2025-6004) and lowercased unless names are case-sensitive.
fn normalise(username: &str, case_insensitive: bool) -> String {
    let trimmed = username.trim();
    if case_insensitive {
        trimmed.to_lowercase()
    } else {
        trimmed.to_string()
    }
}

async fn alias_lookahead(
    _: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let username: String = data.get("username")?;
    if username.is_empty() {
        return Err(Error::internal("missing username"));
    }
    let Some(config) = LdapAuth::stored_config(req.storage.as_ref()).await? else {
        return Err(Error::invalid("auth method not configured"));
    };
    Ok(Some(Response {
        auth: Some(Auth {
            alias: Some(Alias {
                name: normalise(&username, config.case_insensitive()),
                ..Alias::default()
            }),
            ..Auth::default()
        }),
        ..Response::default()
    }))
}

/// What a login found: policies from the mappings, groups, the alias and
/// the response's warnings.
struct Outcome {
    policies: Vec<String>,
    groups: Vec<String>,
    alias: String,
    warnings: Vec<String>,
}

impl Outcome {
    /// The answer for `auth`: the groups as group aliases, and the warnings.
    fn into_response(self, mut auth: Auth) -> Response {
        auth.group_aliases = self
            .groups
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(|name| Alias {
                name,
                ..Alias::default()
            })
            .collect();
        let mut response = Response {
            auth: Some(auth),
            ..Response::default()
        };
        for w in self.warnings {
            response = response.warning(w);
        }
        response
    }
}

/// The longest username or password sent to the directory: beyond any real
/// credential (Active Directory's limit is 256 characters), and far below
/// what slapd takes from a client before it binds (256 KiB), so a huge one is
/// refused here instead of costing a pooled connection.
const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

async fn check(
    backend: &LdapAuth,
    active: &Active,
    req: &Request,
    username: &str,
    password: &str,
) -> Result<Outcome, Error> {
    let config = &active.config;
    for (field, value) in [("username", username), ("password", password)] {
        if value.len() > MAX_CREDENTIAL_BYTES {
            return Err(Error::invalid(format!(
                "{field} is longer than {MAX_CREDENTIAL_BYTES} bytes"
            )));
        }
    }
    if config.deny_null_bind && password.is_empty() {
        return Err(Error::invalid(
            "password cannot be of zero length when passwordless binds are being denied",
        ));
    }
    let found = authenticate(&active.pool, config, username, password)
        .await
        .map_err(|e| match e {
            LoginError::BadCredentials => Error::invalid(e.to_string()),
            other => Error::invalid(other.to_string()),
        })?;
    let mut warnings = Vec::new();
    if found.groups.is_empty() {
        warnings.push(format!(
            "no LDAP groups found in groupDN {:?}; only policies from locally-defined groups \
             available",
            config.groupdn
        ));
    }
    let case_insensitive = config.case_insensitive();
    let canonical = if case_insensitive {
        username.to_lowercase()
    } else {
        username.to_string()
    };
    let storage = req.storage.as_ref();
    let local: Option<UserEntry> = backend
        .mapping(storage, &format!("{USER_PREFIX}{canonical}"))
        .await
        .ok()
        .flatten();
    let mut groups: Vec<String> = local.as_ref().map(|u| u.groups.clone()).unwrap_or_default();
    groups.extend(found.groups);
    let mut policies = Vec::new();
    for name in &groups {
        let key = if case_insensitive {
            name.to_lowercase()
        } else {
            name.clone()
        };
        if let Ok(Some(g)) = backend
            .mapping::<GroupEntry>(storage, &format!("{GROUP_PREFIX}{key}"))
            .await
        {
            policies.extend(g.policies);
        }
    }
    if let Some(u) = &local {
        policies.extend(u.policies.iter().cloned());
    }
    // Go's strutil.RemoveDuplicates(policies, true).
    let policies: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let alias = if config.username_as_alias {
        username.to_string()
    } else {
        found.alias
    };
    Ok(Outcome {
        policies,
        groups,
        alias,
        warnings,
    })
}

async fn login(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let Some(active) = backend.active(req.storage.as_ref()).await? else {
        return Err(Error::invalid("auth method not configured"));
    };
    let config = &active.config;
    if !cidr::request_allowed(req, &config.token.effective().token_bound_cidrs) {
        return Err(Error::PermissionDenied);
    }
    let username = normalise(&data.get::<String>("username")?, config.case_insensitive());
    let password: String = data.get("password")?;
    let outcome = check(backend, &active, req, &username, &password).await?;

    let mut auth = Auth {
        display_name: username.clone(),
        metadata: HashMap::from([("username".to_string(), username.clone())]),
        alias: Some(Alias {
            name: outcome.alias.clone(),
            metadata: HashMap::from([("name".to_string(), username.clone())]),
            ..Alias::default()
        }),
        ..Auth::default()
    };
    // The password comes back (only to this plugin) at renewal, which
    // re-checks the user against the directory as the reference does.
    auth.internal_data
        .insert("password".into(), json!(password));
    config.token.populate_auth(&mut auth);
    auth.policies.extend(outcome.policies.iter().cloned());
    Ok(Some(outcome.into_response(auth)))
}

/// Renewal logs the user in again with the password kept in the token and
/// refuses if their policies changed since.
pub async fn renew(backend: &LdapAuth, req: &Request) -> Result<Option<Response>, Error> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(Error::internal("renew without an auth"));
    };
    let Some(active) = backend.active(req.storage.as_ref()).await? else {
        return Err(Error::invalid("auth method not configured"));
    };
    let config = &active.config;
    let username = auth.metadata.get("username").cloned().unwrap_or_default();
    let password = auth
        .internal_data
        .get("password")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let outcome = check(backend, &active, req, &username, &password).await?;
    let mut expected = config.token.effective().token_policies;
    expected.extend(outcome.policies.iter().cloned());
    if !equivalent_policies(&expected, &auth.token_policies) {
        return Err(Error::internal("policies have changed, not renewing"));
    }
    let effective = config.token.effective();
    auth.period = effective.token_period;
    auth.lease.ttl = effective.token_ttl;
    auth.lease.max_ttl = effective.token_max_ttl;
    Ok(Some(outcome.into_response(auth)))
}

/// Go's `policyutil.EquivalentPolicies`: the same set, ignoring `default`.
fn equivalent_policies(a: &[String], b: &[String]) -> bool {
    let set = |p: &[String]| -> std::collections::BTreeSet<String> {
        p.iter().filter(|x| *x != "default").cloned().collect()
    };
    set(a) == set(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_folded() {
        assert_eq!(normalise("  Alice ", true), "alice");
        assert_eq!(normalise("  Alice ", false), "Alice");
    }

    #[test]
    fn policy_sets_ignore_default() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(equivalent_policies(
            &s(&["a", "b"]),
            &s(&["b", "default", "a"])
        ));
        assert!(equivalent_policies(&s(&[]), &s(&["default"])));
        assert!(!equivalent_policies(&s(&["a"]), &s(&["a", "b"])));
    }
}
