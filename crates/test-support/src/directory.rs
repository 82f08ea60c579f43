//! The group directories of three identity providers, served by the
//! [`OidcProvider`](crate::oidc::OidcProvider)'s HTTPS server beside its
//! OIDC endpoints, for tests of a JWT plugin's `provider_config`:
//!
//! - Microsoft Graph's `POST /graph/v1.0/me/getMemberObjects` (Azure's
//!   distributed groups claim): the caller's bearer token must be an access
//!   token the provider issued; the answer is [`Directory::set_graph_groups`].
//! - Okta's `GET /api/v1/users/{user}/groups`: `Authorization: SSWS <token>`
//!   must be [`Directory::set_okta`]'s token; two groups per page, the next
//!   page in a `Link` header.
//! - Google's OAuth token endpoint for service accounts (`POST
//!   /google/token`, an RS256 JWT assertion signed with the key of
//!   [`Directory::google_service_account`]) and the Workspace Directory API
//!   (`GET /admin/directory/v1/groups?userKey=`, two groups per page, and
//!   `GET /admin/directory/v1/users/{user}?projection=custom`), which want
//!   that endpoint's access tokens.
//! - Google's metadata server token endpoint (`GET
//!   /computeMetadata/v1/instance/service-accounts/default/token`, with
//!   `Metadata-Flavor: Google`; plain HTTP through
//!   [`OidcProvider::serve_metadata`](crate::oidc::OidcProvider::serve_metadata)),
//!   issuing the VM's tokens for the scopes asked, and the IAM Credentials
//!   API (`POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`
//!   and `:signJwt`), which lets a `cloud-platform` token of the VM act as
//!   the service account of [`Directory::google_service_account`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::jwt::{Alg, SigningKey, pem};
use crate::oidc::{form_decode, percent_decode};

/// Groups per page of the Okta and Google listings, so paging is exercised.
const PAGE: usize = 2;
/// The IAM Credentials API's service account resources.
const IAM_ACCOUNTS: &str = "/v1/projects/-/serviceAccounts/";

/// What the directories hold; see the [module docs](self).
pub struct Directory {
    base: String,
    state: Mutex<State>,
    graph_requests: AtomicUsize,
    okta_requests: AtomicUsize,
    google_token_requests: AtomicUsize,
    google_requests: AtomicUsize,
    metadata_requests: AtomicUsize,
    iam_requests: AtomicUsize,
}

struct State {
    graph_groups: Vec<String>,
    okta_token: String,
    okta_groups: HashMap<String, Vec<String>>,
    okta_next_origin: Option<String>,
    google_key: SigningKey,
    google_email: String,
    google_subject: String,
    google_tokens: Vec<String>,
    /// The VM's tokens the IAM Credentials API accepts (`cloud-platform`).
    cloud_tokens: Vec<String>,
    google_members: HashMap<String, Vec<String>>,
    google_schemas: HashMap<String, Value>,
}

/// An answer: status, JSON body, and a `Link` header for paged listings.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub link: Option<String>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Answer {
            status: StatusCode::OK,
            body,
            link: None,
        }
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Answer {
            status,
            body: json!({"error": {"code": status.as_u16(), "message": message}}),
            link: None,
        }
    }
}

impl Directory {
    pub(crate) fn new(base: String) -> Self {
        Directory {
            state: Mutex::new(State {
                graph_groups: Vec::new(),
                okta_token: String::new(),
                okta_groups: HashMap::new(),
                okta_next_origin: None,
                google_key: SigningKey::generate(Alg::RS256, "sa-key-1"),
                google_email: "vault-groups@project.iam.gserviceaccount.com".into(),
                google_subject: String::new(),
                google_tokens: Vec::new(),
                cloud_tokens: Vec::new(),
                google_members: HashMap::new(),
                google_schemas: HashMap::new(),
            }),
            base,
            graph_requests: AtomicUsize::new(0),
            okta_requests: AtomicUsize::new(0),
            google_token_requests: AtomicUsize::new(0),
            google_requests: AtomicUsize::new(0),
            metadata_requests: AtomicUsize::new(0),
            iam_requests: AtomicUsize::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The distributed claim source to name in a token's `_claim_sources`.
    pub fn graph_url(&self) -> String {
        format!("{}/graph/v1.0/me/getMemberObjects", self.base)
    }

    /// The groups Microsoft Graph answers for any caller.
    pub fn set_graph_groups(&self, groups: &[&str]) {
        self.state().graph_groups = groups.iter().map(|g| g.to_string()).collect();
    }

    /// Okta's API token, and each user's groups (by the id the plugin asks
    /// with).
    pub fn set_okta(&self, api_token: &str, groups: &[(&str, &[&str])]) {
        let mut state = self.state();
        state.okta_token = api_token.to_string();
        state.okta_groups = groups
            .iter()
            .map(|(user, groups)| {
                (
                    user.to_string(),
                    groups.iter().map(|g| g.to_string()).collect(),
                )
            })
            .collect();
    }

    /// Makes Okta's next-page links point at `origin` instead of itself.
    pub fn set_okta_next_origin(&self, origin: Option<&str>) {
        self.state().okta_next_origin = origin.map(str::to_string);
    }

    /// A service account key file (JSON) whose token endpoint is this
    /// server's, for `gsuite_service_account`.
    pub fn google_service_account(&self) -> String {
        let state = self.state();
        json!({
            "type": "service_account",
            "project_id": "project",
            "private_key_id": state.google_key.kid(),
            "private_key": pem("PRIVATE KEY", &state.google_key.private_pkcs8_der()),
            "client_email": state.google_email,
            "client_id": "1234567890",
            "token_uri": format!("{}/google/token", self.base),
        })
        .to_string()
    }

    /// The admin the service account must act for (the assertion's `sub`).
    pub fn set_google_admin(&self, email: &str) {
        self.state().google_subject = email.to_string();
    }

    /// Who is in which group: `member` (a user, or a group for nesting) is
    /// in each of `groups`.
    pub fn add_google_membership(&self, member: &str, groups: &[&str]) {
        self.state()
            .google_members
            .entry(member.to_string())
            .or_default()
            .extend(groups.iter().map(|g| g.to_string()));
    }

    /// A user's custom schemas: `{"Schema": {"field": value}}`.
    pub fn set_google_schemas(&self, user: &str, schemas: Value) {
        self.state()
            .google_schemas
            .insert(user.to_string(), schemas);
    }

    pub fn graph_requests(&self) -> usize {
        self.graph_requests.load(Ordering::SeqCst)
    }

    pub fn okta_requests(&self) -> usize {
        self.okta_requests.load(Ordering::SeqCst)
    }

    pub fn google_token_requests(&self) -> usize {
        self.google_token_requests.load(Ordering::SeqCst)
    }

    pub fn google_requests(&self) -> usize {
        self.google_requests.load(Ordering::SeqCst)
    }

    /// Token requests the metadata server answered.
    pub fn metadata_requests(&self) -> usize {
        self.metadata_requests.load(Ordering::SeqCst)
    }

    /// Calls the IAM Credentials API answered, refusals included.
    pub fn iam_requests(&self) -> usize {
        self.iam_requests.load(Ordering::SeqCst)
    }

    /// The metadata server's answer to a token request for the
    /// comma-separated `scopes` of `query`: a token of the VM's own service
    /// account, good for the Directory API or the IAM Credentials API as
    /// the scopes say.
    pub(crate) fn metadata_token(&self, query: &str) -> Answer {
        self.metadata_requests.fetch_add(1, Ordering::SeqCst);
        let params: HashMap<String, String> = form_decode(query).into_iter().collect();
        let scopes: Vec<&str> = params
            .get("scopes")
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let mut state = self.state();
        let token = format!(
            "ya29.vm-{}",
            state.google_tokens.len() + state.cloud_tokens.len() + 1
        );
        if scopes.iter().any(|s| s.ends_with("/auth/cloud-platform")) {
            state.cloud_tokens.push(token.clone());
        }
        if scopes
            .iter()
            .any(|s| s.ends_with("/auth/admin.directory.group.readonly"))
        {
            state.google_tokens.push(token.clone());
        }
        Answer::ok(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
    }

    /// Serves `path` if it is one of the directories'; `issued` says whether
    /// the bearer token is one of the OIDC provider's access tokens.
    pub(crate) fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        authorization: Option<&str>,
        body: &[u8],
        issued: bool,
    ) -> Option<Answer> {
        let params: HashMap<String, String> = form_decode(query).into_iter().collect();
        Some(match (method, path) {
            ("POST", "/graph/v1.0/me/getMemberObjects") => {
                self.graph_requests.fetch_add(1, Ordering::SeqCst);
                self.graph(authorization, body, issued)
            }
            ("GET", p) if p.starts_with("/api/v1/users/") && p.ends_with("/groups") => {
                self.okta_requests.fetch_add(1, Ordering::SeqCst);
                let user = &p["/api/v1/users/".len()..p.len() - "/groups".len()];
                self.okta(&percent_decode(user), authorization, &params)
            }
            ("POST", "/google/token") => {
                self.google_token_requests.fetch_add(1, Ordering::SeqCst);
                self.google_token(body)
            }
            ("POST", p) if p.starts_with(IAM_ACCOUNTS) => {
                self.iam_requests.fetch_add(1, Ordering::SeqCst);
                self.iam_credentials(
                    &percent_decode(&p[IAM_ACCOUNTS.len()..]),
                    authorization,
                    body,
                )
            }
            ("GET", "/admin/directory/v1/groups") => {
                self.google_requests.fetch_add(1, Ordering::SeqCst);
                self.google_groups(authorization, &params)
            }
            ("GET", p) if p.starts_with("/admin/directory/v1/users/") => {
                self.google_requests.fetch_add(1, Ordering::SeqCst);
                let user = percent_decode(&p["/admin/directory/v1/users/".len()..]);
                self.google_user(&user, authorization, &params)
            }
            _ => return None,
        })
    }

    fn graph(&self, authorization: Option<&str>, body: &[u8], issued: bool) -> Answer {
        if bearer(authorization).is_none() || !issued {
            return Answer::error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken");
        }
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        if request
            .get("securityEnabledOnly")
            .and_then(Value::as_bool)
            .is_none()
        {
            return Answer::error(StatusCode::BAD_REQUEST, "securityEnabledOnly is required");
        }
        Answer::ok(json!({ "value": self.state().graph_groups }))
    }

    fn okta(
        &self,
        user: &str,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
    ) -> Answer {
        let state = self.state();
        let expected = format!("SSWS {}", state.okta_token);
        if state.okta_token.is_empty() || authorization != Some(expected.as_str()) {
            return Answer::error(StatusCode::UNAUTHORIZED, "Invalid token provided");
        }
        let Some(groups) = state.okta_groups.get(user) else {
            return Answer::error(StatusCode::NOT_FOUND, "Not found: Resource not found");
        };
        let after: usize = params
            .get("after")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = groups
            .iter()
            .skip(after)
            .take(PAGE)
            .map(|name| json!({"id": format!("00g{name}"), "profile": {"name": name}}))
            .collect();
        let link = (after + PAGE < groups.len()).then(|| {
            let origin = state.okta_next_origin.as_deref().unwrap_or(&self.base);
            format!(
                "<{origin}/api/v1/users/{user}/groups?limit={PAGE}&after={}>; rel=\"next\"",
                after + PAGE
            )
        });
        Answer {
            link,
            ..Answer::ok(Value::Array(page))
        }
    }

    fn google_token(&self, body: &[u8]) -> Answer {
        let form: HashMap<String, String> = form_decode(&String::from_utf8_lossy(body))
            .into_iter()
            .collect();
        let invalid = |why: &str| Answer {
            status: StatusCode::BAD_REQUEST,
            body: json!({"error": "invalid_grant", "error_description": why}),
            link: None,
        };
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return invalid("grant_type must be jwt-bearer");
        }
        let Some(assertion) = form.get("assertion") else {
            return invalid("no assertion");
        };
        let mut state = self.state();
        let claims = match verify_rs256(&state.google_key, assertion) {
            Ok(claims) => claims,
            Err(why) => return invalid(why),
        };
        let now = crate::jwt::now();
        let checks = [
            (
                claims["iss"] == state.google_email.as_str(),
                "iss is not the service account",
            ),
            (
                claims["aud"] == format!("{}/google/token", self.base).as_str(),
                "aud is not the token endpoint",
            ),
            (
                claims["scope"]
                    .as_str()
                    .is_some_and(|s| s.contains("admin.directory.group.readonly")),
                "scope lacks admin.directory.group.readonly",
            ),
            (
                claims["exp"].as_i64().is_some_and(|e| e > now),
                "assertion expired",
            ),
            (
                claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    == state.google_subject,
                "sub is not the admin to impersonate",
            ),
        ];
        if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
            return invalid(why);
        }
        let token = format!("ya29.{}", state.google_tokens.len() + 1);
        state.google_tokens.push(token.clone());
        Answer::ok(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
    }

    /// `{email}:generateAccessToken` or `{email}:signJwt`, called with a
    /// `cloud-platform` token of the VM; only the delegated service account
    /// may be impersonated.
    fn iam_credentials(&self, resource: &str, authorization: Option<&str>, body: &[u8]) -> Answer {
        let mut state = self.state();
        if !bearer(authorization).is_some_and(|t| state.cloud_tokens.iter().any(|k| k == t)) {
            return Answer::error(
                StatusCode::UNAUTHORIZED,
                "Request had invalid authentication credentials.",
            );
        }
        let Some((email, method)) = resource.rsplit_once(':') else {
            return Answer::error(StatusCode::NOT_FOUND, "no such method");
        };
        if email != state.google_email {
            return Answer::error(
                StatusCode::FORBIDDEN,
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may \
                 not exist).",
            );
        }
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        match method {
            "generateAccessToken" => {
                let scopes = request["scope"].as_array().cloned().unwrap_or_default();
                if !scopes
                    .iter()
                    .any(|s| s.as_str().is_some_and(|s| s.ends_with("group.readonly")))
                {
                    return Answer::error(StatusCode::BAD_REQUEST, "scope lacks the Directory API");
                }
                let token = format!("ya29.sa-{}", state.google_tokens.len() + 1);
                state.google_tokens.push(token.clone());
                Answer::ok(json!({"accessToken": token, "expireTime": "2099-01-01T00:00:00Z"}))
            }
            "signJwt" => {
                let Some(claims) = request["payload"]
                    .as_str()
                    .and_then(|p| serde_json::from_str::<Value>(p).ok())
                else {
                    return Answer::error(StatusCode::BAD_REQUEST, "payload must be a JSON string");
                };
                if claims["iss"] != email {
                    return Answer::error(StatusCode::BAD_REQUEST, "iss must be the account");
                }
                let key = state.google_key.clone();
                Answer::ok(json!({"keyId": key.kid(), "signedJwt": key.sign(&claims)}))
            }
            _ => Answer::error(StatusCode::NOT_FOUND, "no such method"),
        }
    }

    fn google_authorized(&self, authorization: Option<&str>) -> bool {
        bearer(authorization).is_some_and(|t| self.state().google_tokens.iter().any(|k| k == t))
    }

    fn google_groups(
        &self,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
    ) -> Answer {
        if !self.google_authorized(authorization) {
            return Answer::error(StatusCode::UNAUTHORIZED, "Invalid Credentials");
        }
        let Some(member) = params.get("userKey") else {
            return Answer::error(StatusCode::BAD_REQUEST, "userKey is required");
        };
        let state = self.state();
        let groups = state
            .google_members
            .get(member)
            .cloned()
            .unwrap_or_default();
        let start: usize = params
            .get("pageToken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = groups
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|email| json!({"email": email}))
            .collect();
        let mut body = json!({"kind": "admin#directory#groups", "groups": page});
        if start + PAGE < groups.len() {
            body["nextPageToken"] = Value::from((start + PAGE).to_string());
        }
        Answer::ok(body)
    }

    fn google_user(
        &self,
        user: &str,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
    ) -> Answer {
        if !self.google_authorized(authorization) {
            return Answer::error(StatusCode::UNAUTHORIZED, "Invalid Credentials");
        }
        if params.get("projection").map(String::as_str) != Some("custom") {
            return Answer::error(StatusCode::BAD_REQUEST, "projection=custom expected");
        }
        let state = self.state();
        let Some(schemas) = state.google_schemas.get(user) else {
            return Answer::error(StatusCode::NOT_FOUND, "Resource Not Found: userKey");
        };
        let wanted: Vec<&str> = params
            .get("customFieldMask")
            .map(|m| m.split(',').collect())
            .unwrap_or_default();
        let mut shown = serde_json::Map::new();
        if let Value::Object(all) = schemas {
            for (name, value) in all {
                if wanted.contains(&name.as_str()) {
                    shown.insert(name.clone(), value.clone());
                }
            }
        }
        Answer::ok(json!({ "customSchemas": shown }))
    }
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The claims of an RS256 JWT signed by `key`, or why not.
fn verify_rs256(key: &SigningKey, jwt: &str) -> Result<Value, &'static str> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the assertion is not a compact JWS");
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| "bad base64url");
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|_| "bad header")?;
    if header["alg"] != "RS256" {
        return Err("the assertion must be RS256");
    }
    let input = &jwt[..jwt.rfind('.').unwrap_or(0)];
    if !key.verifies_rs256(input.as_bytes(), &decode(signature)?) {
        return Err("the assertion's signature does not verify");
    }
    serde_json::from_slice(&decode(claims)?).map_err(|_| "bad claims")
}
