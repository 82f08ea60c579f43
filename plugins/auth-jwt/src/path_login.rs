//! `login`: a role's name and a JWT in, an auth (policies, alias, group
//! aliases, token settings) out. Unauthenticated.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, Path, cidr};
use vault_plugin_sdk::logical::{Error, Operation, Request, Response};

use std::sync::Arc;

use crate::backend::{JwtAuth, ResolveError};
use crate::config::Resolved;
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
            .field(
                Field::string("distributed_claim_access_token")
                    .description(
                        "An optional token used to fetch group memberships specified by the \
                         distributed claim source in the jwt. This is supported only on \
                         Azure/Entra ID",
                    )
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

/// The config ready for logins (or why it is not), and its default role.
/// The default role comes from the stored config even when the keys cannot
/// be loaded right now, so a login's error names the real problem.
async fn load(
    backend: &JwtAuth,
    req: &Request,
) -> Result<(Result<Arc<Resolved>, ResolveError>, String), Error> {
    let storage = req.storage.as_ref();
    match backend.resolved(storage).await {
        Ok(Some(resolved)) => {
            let default_role = resolved.config.default_role.clone();
            Ok((Ok(resolved), default_role))
        }
        Ok(None) => Err(Error::invalid("could not load configuration")),
        Err(e) => match JwtAuth::stored_config(storage).await? {
            Some(config) => Ok((Err(e), config.default_role)),
            None => Err(Error::invalid("could not load configuration")),
        },
    }
}

async fn resolve_role(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let (_, default_role) = load(backend, req).await?;
    let (name, _) = backend
        .named_role(req.storage.as_ref(), data.get("role")?, &default_role)
        .await?;
    Ok(Some(Response::with_data(json!({ "role": name }))))
}

async fn login(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let (resolved, default_role) = load(backend, req).await?;
    let (name, role) = backend
        .named_role(req.storage.as_ref(), data.get("role")?, &default_role)
        .await?;
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
    let resolved =
        resolved.map_err(|e| Error::invalid(format!("error configuring token validator: {e}")))?;
    let claims = verify_signature(&resolved, &token)
        .await
        .map_err(|e| Error::invalid(e.to_string()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let access_token: String = data.get("distributed_claim_access_token")?;
    let identity = check_claims(&resolved, &role, &name, claims, now, &access_token)
        .await
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
