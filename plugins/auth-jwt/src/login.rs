//! A login's checks, apart from the HTTP path: the token's signature with
//! the configured keys, its algorithm, its registered claims against the
//! role, and the identity the role takes from it. Kept free of the
//! framework so it can be benchmarked and tested on its own.

use std::collections::HashMap;

use serde_json::{Map, Value};
use vault_plugin_sdk::logical::{Alias, Auth, Response};

use crate::claims::{self, Expected};
use crate::config::{KeySource, Resolved};
use crate::jose::Jws;
use crate::jwks::verify_with;
use crate::role::Role;

/// Why a login was refused; `Display` is the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("error validating token: error verifying token signature: {0}")]
    Signature(String),
    #[error(
        "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm ({alg}; allowed: {allowed})"
    )]
    Algorithm { alg: String, allowed: String },
    #[error("error validating token: {0}")]
    Claims(#[from] claims::ClaimsError),
    #[error("audience claim found in JWT but no audiences bound to the role")]
    UnboundAudience,
    /// The identity could not be taken from the claims (reference texts).
    #[error("{0}")]
    Identity(String),
    #[error("error validating claims: {0}")]
    BoundClaims(#[from] claims::BoundClaimsError),
}

/// Verifies the token's signature and algorithm; returns its claims.
pub async fn verify_signature(
    resolved: &Resolved,
    token: &str,
) -> Result<Map<String, Value>, LoginError> {
    let jws = Jws::parse(token).map_err(|e| LoginError::Signature(e.to_string()))?;
    let verified = match &resolved.keys {
        KeySource::Static(keys) => {
            if !verify_with(keys, &jws) {
                return Err(LoginError::Signature(
                    "no known key successfully validated the token signature".into(),
                ));
            }
            true
        }
        KeySource::Jwks(sets) => {
            let mut verified = false;
            let mut last_error = None;
            for set in sets {
                match set.verify(&jws).await {
                    Ok(true) => {
                        verified = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => last_error = Some(e),
                }
            }
            if !verified && let Some(e) = last_error {
                return Err(LoginError::Signature(e.to_string()));
            }
            verified
        }
        KeySource::Discovery(provider) => provider
            .keys
            .verify(&jws)
            .await
            .map_err(|e| LoginError::Signature(e.to_string()))?,
    };
    if !verified {
        return Err(LoginError::Signature(
            "failed to verify id token signature".into(),
        ));
    }
    if !resolved.algorithms.contains(&jws.alg) {
        let allowed: Vec<&str> = resolved.algorithms.iter().map(|a| a.name()).collect();
        return Err(LoginError::Algorithm {
            alg: jws.alg.name().into(),
            allowed: allowed.join(", "),
        });
    }
    Ok(jws.claims)
}

/// What a successful login takes from the token.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub alias: Alias,
    pub groups: Vec<String>,
}

impl Identity {
    /// The login's answer: the alias and group aliases, the metadata, the
    /// role to renew against, and the role's token settings.
    pub fn into_response(self, role: &Role, role_name: &str) -> Response {
        let mut auth = Auth {
            display_name: self.alias.name.clone(),
            metadata: self.alias.metadata.clone(),
            group_aliases: self
                .groups
                .into_iter()
                .map(|name| Alias {
                    name,
                    ..Alias::default()
                })
                .collect(),
            alias: Some(self.alias),
            ..Auth::default()
        };
        auth.internal_data
            .insert("role".into(), Value::from(role_name));
        auth.internal_data
            .insert("role_type".into(), Value::from("native"));
        role.token.populate_auth(&mut auth);
        Response {
            auth: Some(auth),
            ..Response::default()
        }
    }
}

/// The role's checks on verified claims, in the reference's order:
/// registered claims, audience strictness, identity (with the provider's
/// lookups), bound claims. `access_token` is the login's
/// `distributed_claim_access_token` (Azure's group lookups), or empty.
pub async fn check_claims(
    resolved: &Resolved,
    role: &Role,
    role_name: &str,
    mut claims: Map<String, Value>,
    now: i64,
    access_token: &str,
) -> Result<Identity, LoginError> {
    let no_audiences = Vec::new();
    let expected = Expected {
        issuer: &resolved.issuer,
        subject: &role.bound_subject,
        audiences: role.bound_audiences.as_ref().unwrap_or(&no_audiences),
        expiration_leeway: Role::secs(role.expiration_leeway),
        not_before_leeway: Role::secs(role.not_before_leeway),
        clock_skew_leeway: Role::secs(role.clock_skew_leeway),
    };
    claims::validate_registered(&claims, &expected, now)?;
    if let Some(separator) = resolved.groups_separator()
        && !role.groups_claim.is_empty()
    {
        claims::split_groups_claim(&mut claims, &role.groups_claim, separator);
    }
    let token_audiences = claims::audiences(&claims).unwrap_or_default();
    if !token_audiences.is_empty() && expected.audiences.is_empty() {
        return Err(LoginError::UnboundAudience);
    }
    let identity = identity(resolved, role, role_name, &mut claims, access_token).await?;
    if let Some(bound) = &role.bound_claims {
        claims::validate_bound_claims(role.bound_claims_type == "glob", bound, &claims)?;
    }
    Ok(identity)
}

/// The alias (user claim, mapped metadata, the role) and group names. A
/// configured provider may add claims (user info, groups from its API)
/// first; they stay in `claims` for the bound-claims check.
pub async fn identity(
    resolved: &Resolved,
    role: &Role,
    role_name: &str,
    claims: &mut Map<String, Value>,
    access_token: &str,
) -> Result<Identity, LoginError> {
    let user = if role.user_claim_json_pointer {
        claims::get_claim(claims, &role.user_claim)
    } else {
        claims
            .get(&role.user_claim)
            .filter(|v| !v.is_null())
            .cloned()
    };
    let Some(user) = user else {
        return Err(LoginError::Identity(format!(
            "claim {:?} not found in token",
            role.user_claim
        )));
    };
    let Value::String(user) = user else {
        return Err(LoginError::Identity(format!(
            "claim {:?} could not be converted to string",
            role.user_claim
        )));
    };
    if let Some(provider) = &resolved.provider {
        provider
            .fetch_user_info(claims, role)
            .await
            .map_err(LoginError::Identity)?;
    }
    let mappings: HashMap<String, String> = role
        .claim_mappings
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut metadata = claims::extract_metadata(claims, &mappings).map_err(LoginError::Identity)?;
    metadata.insert("role".into(), role_name.to_string());
    let groups = if role.groups_claim.is_empty() {
        Vec::new()
    } else {
        if let Some(provider) = &resolved.provider {
            provider
                .fetch_groups(claims, role, access_token)
                .await
                .map_err(|e| LoginError::Identity(format!("failed to fetch groups: {e}")))?;
        }
        claims::groups(claims, &role.groups_claim).map_err(LoginError::Identity)?
    };
    Ok(Identity {
        alias: Alias {
            name: user,
            metadata,
            ..Alias::default()
        },
        groups,
    })
}
