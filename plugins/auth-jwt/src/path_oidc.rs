//! `oidc/auth_url`, `oidc/callback` (GET, and POST for form_post): the
//! browser flow against the configured OpenID Provider. Unauthenticated.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use vault_plugin_sdk::framework::{Field, FieldData, Path, cidr};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::JwtAuth;
use crate::config::{Config, KeySource, Resolved};
use crate::login::identity;
use crate::oidc::{
    PendingRequest, TokenResponse, basic_auth, code_challenge, new_state, parse_query,
    query_escape, redirect_allowed, verify_id_token,
};

const FAILED: &str = "OpenBao login failed.";

pub fn paths() -> Vec<Path<JwtAuth>> {
    vec![
        Path::new("oidc/auth_url")
            .field(
                Field::lowercase_string("role")
                    .description("The role to issue an OIDC authorization URL against."),
            )
            .field(
                Field::string("redirect_uri")
                    .description("The OAuth redirect_uri to use in the authorization URL."),
            )
            .field(Field::string("client_nonce").description(
                "Optional client-provided nonce that must match during callback, if present.",
            ))
            .update(auth_url)
            .help(
                "Request an authorization URL to start an OIDC login flow.",
                "",
            ),
        Path::new("oidc/callback")
            .field(Field::string("state").query())
            .field(Field::string("code").query())
            .field(Field::string("id_token"))
            .field(Field::string("client_nonce").query())
            .field(Field::string("error").query())
            .field(Field::string("error_description").query())
            .read(callback)
            .update(callback_post)
            .help("Callback endpoint to complete an OIDC login.", ""),
    ]
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn is_oidc_flow(config: &Config) -> bool {
    !config.oidc_discovery_url.is_empty()
        && !config.oidc_client_id.is_empty()
        && !config.oidc_client_secret.is_empty()
}

fn empty_auth_url(why: &str) -> Option<Response> {
    Some(Response::with_data(json!({ "auth_url": "" })).warning(why))
}

async fn auth_url(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let storage = req.storage.as_ref();
    let Some(config) = JwtAuth::stored_config(storage).await? else {
        return Err(Error::invalid("could not load configuration"));
    };
    if !is_oidc_flow(&config) {
        return Err(Error::invalid(
            "OIDC login is not configured for this mount",
        ));
    }
    let (role_name, role) = backend
        .named_role(storage, data.get("role")?, &config.default_role)
        .await?;
    let client_nonce: String = data.get("client_nonce")?;
    let mut redirect_uri: String = data.get("redirect_uri")?;
    if redirect_uri.is_empty() {
        return Err(Error::invalid("missing redirect_uri"));
    }
    let mut namespace = None;
    if config.namespace_in_state {
        (redirect_uri, namespace) = take_namespace(&redirect_uri);
    }
    let allowed = role.allowed_redirect_uris.clone().unwrap_or_default();
    if !redirect_allowed(&redirect_uri, &allowed) {
        tracing::warn!(redirect_uri = %redirect_uri, "unauthorized redirect_uri");
        return Ok(empty_auth_url("redirect_uri is not allowed for this role"));
    }
    if config.oidc_response_mode == "form_post" {
        redirect_uri = redirect_uri.replacen("ui/vault", "v1", 1);
    }
    let resolved = match backend.resolved(storage).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(Error::invalid("could not load configuration")),
        Err(e) => {
            tracing::warn!(error = %e, "error getting OIDC provider");
            return Ok(empty_auth_url("the OIDC provider could not be reached"));
        }
    };
    let KeySource::Discovery(provider) = &resolved.keys else {
        return Ok(empty_auth_url("the OIDC provider could not be reached"));
    };

    let implicit = config.has_response_type("id_token");
    let max_age = (role.max_age > 0).then(|| role.max_age().as_secs());
    let request = PendingRequest::new(
        role_name,
        redirect_uri.clone(),
        client_nonce,
        !implicit,
        max_age,
    );
    let state = new_state();
    let mut scopes = vec!["openid".to_string()];
    for s in role.oidc_scopes.iter().flatten() {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    let shown_state = match &namespace {
        Some(ns) => format!("{state},ns={ns}"),
        None => state.clone(),
    };
    // Sorted by name, as Go's url.Values encodes them.
    let mut params: Vec<(&str, String)> = vec![("client_id", config.oidc_client_id.clone())];
    if !implicit {
        params.push(("code_challenge", code_challenge(&request.code_verifier)));
        params.push(("code_challenge_method", "S256".into()));
    }
    if let Some(age) = max_age {
        params.push(("max_age", age.to_string()));
    }
    params.push(("nonce", request.nonce.clone()));
    params.push(("redirect_uri", redirect_uri));
    if implicit {
        params.push(("response_mode", "form_post".into()));
        params.push(("response_type", "id_token".into()));
    } else {
        params.push(("response_type", "code".into()));
    }
    params.push(("scope", scopes.join(" ")));
    params.push(("state", shown_state));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect();
    let endpoint = &provider.metadata.authorization_endpoint;
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let url = format!("{endpoint}{separator}{}", query.join("&"));
    backend.pending.insert(state, request);
    Ok(Some(Response::with_data(json!({ "auth_url": url }))))
}

/// Removes a `namespace` query parameter from the redirect URI (it travels
/// in the state instead).
fn take_namespace(uri: &str) -> (String, Option<String>) {
    let Some((base, query)) = uri.split_once('?') else {
        return (uri.to_string(), None);
    };
    let mut pairs = parse_query(query);
    let Some(pos) = pairs.iter().position(|(k, _)| k == "namespace") else {
        return (uri.to_string(), None);
    };
    let (_, namespace) = pairs.remove(pos);
    pairs.sort();
    if pairs.is_empty() {
        return (base.to_string(), Some(namespace));
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect();
    (format!("{base}?{}", query.join("&")), Some(namespace))
}

fn failed(message: &str) -> Error {
    Error::invalid(format!("{FAILED} {message}"))
}

/// OAuth 2.0 error codes (RFC 6749 4.1.2.1) shown as they are; anything
/// else is not echoed back.
fn provider_error(code: &str) -> String {
    const KNOWN: [&str; 7] = [
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    ];
    let code = code.trim().to_lowercase();
    if KNOWN.contains(&code.as_str()) {
        code
    } else {
        "An unknown error occurred during OIDC authentication. Check server logs for details".into()
    }
}

/// The state without a `,ns=<namespace>` suffix.
fn bare_state(state: &str) -> &str {
    state.split_once(",ns=").map_or(state, |(s, _)| s)
}

async fn callback(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let storage = req.storage.as_ref();
    let resolved = match backend.resolved(storage).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(failed("Could not load configuration")),
        Err(e) => {
            return Err(Error::internal(format!(
                "error getting provider for login operation: {e}"
            )));
        }
    };
    let state: String = data.get("state")?;
    let Some(request) = backend.pending.take(bare_state(&state)) else {
        return Err(failed("Expired or missing OAuth state."));
    };
    let Some(role) = backend.role(storage, &request.role).await? else {
        return Err(failed("Role could not be found"));
    };
    let error: String = data.get("error")?;
    if !error.trim().is_empty() {
        return Err(failed(&provider_error(&error)));
    }
    let client_nonce: String = data.get("client_nonce")?;
    if !request.client_nonce.is_empty() && client_nonce != request.client_nonce {
        return Err(Error::invalid("invalid client_nonce"));
    }
    if !cidr::request_allowed(req, &role.token.effective().token_bound_cidrs) {
        return Err(Error::PermissionDenied);
    }
    let KeySource::Discovery(provider) = &resolved.keys else {
        return Err(Error::internal(
            "error getting provider for login operation: not an OIDC config",
        ));
    };
    let mut code: String = data.get("code")?;
    if code == "no_code" {
        code = request.code.clone();
    }
    let (claims, access_token) = if code.is_empty() {
        if request.id_token.is_empty() {
            return Err(failed("No code or id_token received."));
        }
        let claims = verify_id_token(&resolved, &role, &request, &request.id_token, now())
            .await
            .map_err(|e| Error::invalid(format!("Token verification failed. {e}")))?;
        (claims, String::new())
    } else {
        exchange(&resolved, &role, &request, &code)
            .await
            .map_err(|e| failed(&format!("Error exchanging oidc code: {e:?}.")))?
    };
    let mut claims = claims;
    claims.remove("nonce");
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !role.bound_subject.is_empty() && role.bound_subject != subject {
        return Err(failed("sub claim does not match bound subject"));
    }
    if !access_token.is_empty() && !provider.metadata.userinfo_endpoint.is_empty() {
        merge_userinfo(&resolved, &access_token, &subject, &mut claims).await;
    }
    if role.verbose_oidc_logging {
        let shown = Value::Object(claims.clone());
        tracing::debug!(claims = %shown, "OIDC provider response");
    }
    if let Some(separator) = resolved.groups_separator()
        && !role.groups_claim.is_empty()
    {
        crate::claims::split_groups_claim(&mut claims, &role.groups_claim, separator);
    }
    let identity = identity(&resolved, &role, &request.role, &mut claims, &access_token)
        .await
        .map_err(|e| failed(&e.to_string()))?;
    if let Some(bound) = &role.bound_claims {
        crate::claims::validate_bound_claims(role.bound_claims_type == "glob", bound, &claims)
            .map_err(|e| failed(&format!("error validating claims: {e}")))?;
    }
    Ok(Some(identity.into_response(&role, &request.role)))
}

/// Trades the code for tokens at the token endpoint (PKCE verifier, client
/// secret by HTTP Basic) and checks the ID token.
async fn exchange(
    resolved: &Resolved,
    role: &crate::role::Role,
    request: &PendingRequest,
    code: &str,
) -> Result<(Map<String, Value>, String), String> {
    let KeySource::Discovery(provider) = &resolved.keys else {
        return Err("not an OIDC config".into());
    };
    let config = &resolved.config;
    let mut form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}",
        query_escape(code),
        query_escape(&request.redirect_uri)
    );
    if !request.code_verifier.is_empty() {
        form.push_str(&format!(
            "&code_verifier={}",
            query_escape(&request.code_verifier)
        ));
    }
    let auth = basic_auth(&config.oidc_client_id, &config.oidc_client_secret);
    let body = provider
        .client
        .post_form(
            &provider.metadata.token_endpoint,
            &form,
            &[("authorization", auth)],
        )
        .await
        .map_err(|e| {
            format!("Provider.Exchange: unable to exchange auth code with provider: {e}")
        })?;
    let tokens: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| format!("Provider.Exchange: invalid token response: {e}"))?;
    if tokens.id_token.is_empty() {
        return Err("Provider.Exchange: id_token is missing from auth code exchange".into());
    }
    let claims = verify_id_token(resolved, role, request, &tokens.id_token, now())
        .await
        .map_err(|e| format!("Provider.Exchange: id_token failed verification: {e}"))?;
    if let Some(Value::String(at_hash)) = claims.get("at_hash")
        && !tokens.access_token.is_empty()
        && !at_hash_matches(&tokens.id_token, &tokens.access_token, at_hash)
    {
        return Err("Provider.Exchange: id_token failed verification: invalid at_hash".into());
    }
    Ok((claims, tokens.access_token))
}

/// `at_hash`: the left half of the access token's hash, with the hash of
/// the ID token's algorithm (OpenID Connect Core 3.1.3.6).
fn at_hash_matches(id_token: &str, access_token: &str, at_hash: &str) -> bool {
    use aws_lc_rs::digest;
    use base64::Engine;
    let Ok(jws) = crate::jose::Jws::parse(id_token) else {
        return false;
    };
    let name = jws.alg.name();
    let algorithm = if name.ends_with("256") {
        &digest::SHA256
    } else if name.ends_with("384") {
        &digest::SHA384
    } else {
        &digest::SHA512
    };
    let hash = digest::digest(algorithm, access_token.as_bytes());
    let half = &hash.as_ref()[..hash.as_ref().len() / 2];
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half) == at_hash
}

/// Adds the userinfo endpoint's claims over the ID token's; a failure is
/// logged, not fatal (as the reference does).
async fn merge_userinfo(
    resolved: &Resolved,
    access_token: &str,
    subject: &str,
    claims: &mut Map<String, Value>,
) {
    let KeySource::Discovery(provider) = &resolved.keys else {
        return;
    };
    let got = provider
        .client
        .get_with(
            &provider.metadata.userinfo_endpoint,
            &[("authorization", format!("Bearer {access_token}"))],
        )
        .await;
    let info = match got.map(|b| serde_json::from_slice::<Map<String, Value>>(&b)) {
        Ok(Ok(info)) => info,
        Ok(Err(e)) => return tracing::warn!(error = %e, "error reading userinfo"),
        Err(e) => return tracing::warn!(error = %e, "error fetching userinfo"),
    };
    if info.get("sub").and_then(Value::as_str) != Some(subject) {
        return tracing::warn!("userinfo subject does not match the ID token's");
    }
    for (k, v) in info {
        claims.insert(k, v);
    }
}

/// The form_post callback: the provider's browser POST delivers the code
/// or ID token; a page hands the state back to the UI window, which then
/// completes the login with a GET.
async fn callback_post(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let Some(config) = JwtAuth::stored_config(req.storage.as_ref()).await? else {
        return Err(failed("Could not load configuration."));
    };
    if config.oidc_response_mode != "form_post" {
        return Ok(Some(Response::raw(405, "text/plain", b"")));
    }
    let state: String = data.get("state")?;
    let code: String = data.get("code")?;
    let id_token: String = data.get("id_token")?;
    let Some(request) = backend.pending.deliver(bare_state(&state), code, id_token) else {
        return Ok(Some(html(
            400,
            &error_page("Expired or missing OAuth state."),
        )));
    };
    let Some(mount) = mount_of(&request.redirect_uri) else {
        return Ok(Some(html(400, &error_page("Invalid redirect path."))));
    };
    Ok(Some(html(200, &form_post_page(&mount, &state))))
}

fn html(status: u16, body: &str) -> Response {
    Response::raw(status, "text/html", body.as_bytes())
}

/// The mount a `.../v1/auth/<mount>/oidc/callback` redirect URI names.
fn mount_of(redirect_uri: &str) -> Option<String> {
    let parts: Vec<&str> = redirect_uri.split('/').collect();
    parts
        .windows(3)
        .find(|w| w[0] == "v1" && w[1] == "auth")
        .map(|w| w[2].to_string())
        .filter(|m| !m.is_empty())
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn error_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Login failed</title></head>\
         <body><h1>{}</h1><p>{}</p></body></html>\n",
        escape_html(FAILED),
        escape_html(message)
    )
}

/// Hands the state to the window that opened the login (the UI), which
/// then calls `oidc/callback?state=…&code=no_code`.
fn form_post_page(mount: &str, state: &str) -> String {
    let js = |s: &str| {
        Value::String(s.to_string())
            .to_string()
            .replace('<', "\\u003c")
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Completing login</title></head>\
         <body><p>Completing login, you can close this window.</p><script>\
         window.opener.postMessage({{source: 'oidc-callback', path: {}, code: {}, state: {}}}, \
         window.origin);</script></body></html>\n",
        js(mount),
        js("no_code"),
        js(state)
    )
}
