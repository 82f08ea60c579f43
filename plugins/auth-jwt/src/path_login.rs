//! `login`: a role's name and a JWT in, an auth (policies, alias, group
//! aliases, token settings) out. Unauthenticated.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, Path, cidr};
use vault_plugin_sdk::logical::{Error, Operation, Request, Response};

use crate::backend::JwtAuth;
use crate::login::{check_claims, verify_signature};

pub fn paths() -> Vec<Path<JwtAuth>> {
    vec![
        Path::new("login$")
            .field(Field::lowercase_string("role").description("The role to log in against."))
            .field(
                Field::string("jwt")
                    .description("The signed JWT to validate.")
                    .sensitive(),
            )
            .update(login)
            .on(Operation::AliasLookahead, login)
            .on(Operation::ResolveRole, resolve_role)
            .help(
                "Authenticates to OpenBao using a JWT (or OIDC) token.",
                "Authenticates JWTs.",
            ),
    ]
}

/// The role a login names, or the config's default role.
async fn role_name(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<(String, std::sync::Arc<crate::role::Role>), Error> {
    // The default role comes from the config even when its keys cannot be
    // loaded right now, so the error names the real problem.
    let default_role = match backend.resolved(req.storage.as_ref()).await {
        Ok(resolved) => resolved.map(|r| r.config.default_role.clone()),
        Err(_) => JwtAuth::stored_config(req.storage.as_ref())
            .await?
            .map(|c| c.default_role),
    };
    let Some(config) = default_role else {
        return Err(Error::invalid("could not load configuration"));
    };
    let mut name: String = data.get("role")?;
    if name.is_empty() {
        name = config;
    }
    if name.is_empty() {
        return Err(Error::invalid("missing role"));
    }
    match backend.role(req.storage.as_ref(), &name).await? {
        Some(role) => Ok((name, role)),
        None => Err(Error::invalid(format!("role {name:?} could not be found"))),
    }
}

async fn resolve_role(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let (name, _) = role_name(backend, req, data).await?;
    Ok(Some(Response::with_data(json!({ "role": name }))))
}

async fn login(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let storage = req.storage.as_ref();
    let resolved = match backend.resolved(storage).await {
        Ok(Some(r)) => Some(r),
        Ok(None) => return Err(Error::invalid("could not load configuration")),
        Err(_) => None,
    };
    let (name, role) = role_name(backend, req, data).await?;
    if role.role_type == "oidc" {
        return Err(Error::invalid("role with oidc role_type is not allowed"));
    }
    let token: String = data.get("jwt")?;
    if token.is_empty() {
        return Err(Error::invalid("missing token"));
    }
    if !cidr::request_allowed(req, &role.token.effective().token_bound_cidrs) {
        return Err(Error::PermissionDenied);
    }
    let resolved = match resolved {
        Some(r) => r,
        None => match backend.resolved(storage).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(Error::invalid("could not load configuration")),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "error configuring token validator: {e}"
                )));
            }
        },
    };
    let claims = verify_signature(&resolved, &token)
        .await
        .map_err(|e| Error::invalid(e.to_string()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let identity = check_claims(&resolved, &role, &name, &claims, now)
        .map_err(|e| Error::invalid(e.to_string()))?;

    Ok(Some(identity.into_response(&role, &name)))
}

/// Renewal: the role must still exist; its current TTLs apply.
pub async fn renew(backend: &JwtAuth, req: &Request) -> Result<Option<Response>, Error> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(Error::internal("renew without an auth"));
    };
    let name = auth
        .internal_data
        .get("role")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(Error::internal("failed to fetch role_name during renewal"));
    }
    let Some(role) = backend.role(req.storage.as_ref(), &name).await? else {
        return Err(Error::internal(format!(
            "role {name} does not exist during renewal"
        )));
    };
    let effective = role.token.effective();
    auth.lease.ttl = effective.token_ttl;
    auth.lease.max_ttl = effective.token_max_ttl;
    auth.period = effective.token_period;
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}
