//! `gsuite`: Google's ID tokens carry no groups. With `fetch_groups`, the
//! user's groups come from the Google Workspace Directory API (optionally
//! the groups of those groups, `groups_recurse_max_depth` deep); with
//! `fetch_user_info`, the user's `user_custom_schemas` become claims.
//!
//! The API is called as a service account (`gsuite_service_account`, a key
//! file's path or contents, else Application Default Credentials from
//! `GOOGLE_APPLICATION_CREDENTIALS` or gcloud's file) with domain-wide
//! delegation to `gsuite_admin_impersonate`. The access token is kept until
//! shortly before it expires; the reference asks for a new one every login.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Settings, path_segment, user_claim};
use crate::http::{Client, HttpError};
use crate::oidc::query_escape;
use crate::role::Role;

const SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.group.readonly \
                      https://www.googleapis.com/auth/admin.directory.user.readonly";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_DIRECTORY_URL: &str = "https://admin.googleapis.com";
/// A token this close to expiry is replaced before use.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Directory calls one login may make (group pages, recursion included).
const MAX_CALLS: usize = 500;

pub struct GSuite {
    admin_impersonate: String,
    fetch_groups: bool,
    fetch_user_info: bool,
    recurse_max_depth: u32,
    user_custom_schemas: String,
    domain: String,
    directory_url: String,
    credentials: Credentials,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    http: Client,
}

enum Credentials {
    ServiceAccount {
        email: String,
        key_id: String,
        key: RsaKeyPair,
        token_uri: String,
    },
    /// gcloud's `application_default_credentials.json` of a user.
    AuthorizedUser {
        client_id: String,
        client_secret: String,
        refresh_token: String,
        token_uri: String,
    },
}

#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    token_uri: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
}

impl GSuite {
    pub(super) fn new(settings: &Settings, http: Client) -> Result<Self, String> {
        let service_account = settings.string("gsuite_service_account")?;
        let admin_impersonate = settings.string("gsuite_admin_impersonate")?;
        let impersonate_principal = settings.string("impersonate_principal")?;
        let fetch_groups = settings.bool("fetch_groups")?;
        let fetch_user_info = settings.bool("fetch_user_info")?;
        let depth = settings.int("groups_recurse_max_depth")?;
        let user_custom_schemas = settings.string("user_custom_schemas")?;
        let domain = settings.string("domain")?;
        let mut directory_url = settings.string("directory_api_url")?;
        if depth < 0 {
            return Err("'gsuite_recurse_max_depth' must be a positive integer".into());
        }
        if directory_url.is_empty() {
            directory_url = DEFAULT_DIRECTORY_URL.into();
        }
        if !directory_url.starts_with("https://") {
            return Err("directory_api_url must use https".into());
        }
        let credentials = if !service_account.is_empty() {
            let json = if std::path::Path::new(&service_account).is_file() {
                std::fs::read_to_string(&service_account).map_err(|e| e.to_string())?
            } else {
                service_account
            };
            Credentials::parse(&json)
                .map_err(|e| format!("error parsing service account JSON: {e}"))?
        } else if !impersonate_principal.is_empty() {
            return Err(format!(
                "failed to impersonate principal: {impersonate_principal:?}: impersonation \
                 through the IAM Credentials API is not supported by this plugin; set \
                 gsuite_service_account to a key of that service account"
            ));
        } else {
            let json = default_credentials()
                .map_err(|e| format!("failed to find application default credentials: {e}"))?;
            Credentials::parse(&json)
                .map_err(|e| format!("failed to find application default credentials: {e}"))?
        };
        Ok(GSuite {
            admin_impersonate,
            fetch_groups,
            fetch_user_info,
            recurse_max_depth: u32::try_from(depth).unwrap_or(u32::MAX),
            user_custom_schemas,
            domain,
            directory_url: directory_url.trim_end_matches('/').to_string(),
            credentials,
            token: tokio::sync::Mutex::new(None),
            http,
        })
    }

    pub async fn fetch_groups(
        &self,
        claims: &Map<String, Value>,
        role: &Role,
    ) -> Result<Value, String> {
        if !self.fetch_groups {
            // As the reference: the claim is then unset.
            return Ok(Value::Null);
        }
        let user = user_claim(claims, &role.user_claim)?;
        let mut found: Vec<String> = Vec::new();
        let mut pending = vec![(user, self.recurse_max_depth)];
        let mut calls = 0;
        while let Some((key, depth)) = pending.pop() {
            let mut page_token = String::new();
            loop {
                calls += 1;
                if calls > MAX_CALLS {
                    return Err(format!(
                        "more than {MAX_CALLS} Directory API calls for one login"
                    ));
                }
                let page = self.groups_page(&key, &page_token).await?;
                for group in page.groups {
                    if group.email.is_empty() || found.contains(&group.email) {
                        continue;
                    }
                    if depth > 0 {
                        pending.push((group.email.clone(), depth - 1));
                    }
                    found.push(group.email);
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
        tracing::debug!(groups = ?found, "fetched G Suite groups");
        Ok(Value::Array(found.into_iter().map(Value::from).collect()))
    }

    pub async fn fetch_user_info(
        &self,
        claims: &mut Map<String, Value>,
        role: &Role,
    ) -> Result<(), String> {
        if !self.fetch_user_info || self.user_custom_schemas.is_empty() {
            if !self.user_custom_schemas.is_empty() {
                tracing::warn!(
                    schemas = %self.user_custom_schemas,
                    "must set 'fetch_user_info=true' to fetch 'user_custom_schemas'"
                );
            }
            return Ok(());
        }
        let user = user_claim(claims, &role.user_claim)?;
        let url = format!(
            "{}/admin/directory/v1/users/{}?projection=custom&customFieldMask={}&fields=customSchemas",
            self.directory_url,
            path_segment(&user),
            query_escape(&self.user_custom_schemas),
        );
        let answer = self.directory_get(&url).await?;
        if let Some(Value::Object(schemas)) = answer.get("customSchemas") {
            for (schema, value) in schemas {
                if !value.is_object() {
                    return Err(format!(
                        "json: cannot unmarshal custom schema {schema:?} into an object"
                    ));
                }
                claims.insert(schema.clone(), value.clone());
            }
        }
        Ok(())
    }

    async fn groups_page(&self, user_key: &str, page_token: &str) -> Result<GroupsPage, String> {
        let mut url = format!(
            "{}/admin/directory/v1/groups?userKey={}&fields=nextPageToken%2Cgroups%28email%29",
            self.directory_url,
            query_escape(user_key),
        );
        if !self.domain.is_empty() {
            url.push_str(&format!("&domain={}", query_escape(&self.domain)));
        }
        if !page_token.is_empty() {
            url.push_str(&format!("&pageToken={}", query_escape(page_token)));
        }
        let answer = self.directory_get(&url).await?;
        serde_json::from_value(answer).map_err(|e| format!("googleapi: {e}"))
    }

    async fn directory_get(&self, url: &str) -> Result<Value, String> {
        let token = self.access_token().await?;
        let body = self
            .http
            .get_with(url, &[("authorization", format!("Bearer {token}"))])
            .await
            .map_err(|e| match e {
                HttpError::Status { status, body, .. } => {
                    let message = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
                        .unwrap_or(body);
                    format!("googleapi: Error {status}: {message}")
                }
                other => format!("googleapi: {other}"),
            })?;
        serde_json::from_slice(&body).map_err(|e| format!("googleapi: {e}"))
    }

    /// A cached access token, or a new one from the token endpoint.
    async fn access_token(&self) -> Result<String, String> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + EXPIRY_MARGIN < *expires
        {
            return Ok(token.clone());
        }
        let (token_uri, form) = self.credentials.token_request(&self.admin_impersonate)?;
        let body = self
            .http
            .post_form(&token_uri, &form, &[])
            .await
            .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| format!("oauth2: cannot parse token response: {e}"))?;
        if answer.access_token.is_empty() {
            return Err("oauth2: server response missing access_token".into());
        }
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).min(86_400));
        *cached = Some((answer.access_token.clone(), Instant::now() + lifetime));
        Ok(answer.access_token)
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GroupsPage {
    groups: Vec<Group>,
    next_page_token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Group {
    email: String,
}

impl Credentials {
    fn parse(json: &str) -> Result<Self, String> {
        let file: CredentialsFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let token_uri = if file.token_uri.is_empty() {
            DEFAULT_TOKEN_URI.to_string()
        } else {
            file.token_uri
        };
        match file.kind.as_str() {
            "service_account" => Ok(Credentials::ServiceAccount {
                email: file.client_email,
                key_id: file.private_key_id,
                key: rsa_key(&file.private_key)?,
                token_uri,
            }),
            "authorized_user" => Ok(Credentials::AuthorizedUser {
                client_id: file.client_id,
                client_secret: file.client_secret,
                refresh_token: file.refresh_token,
                token_uri,
            }),
            other => Err(format!(
                "unknown credential type {other:?} (expected \"service_account\" or \
                 \"authorized_user\")"
            )),
        }
    }

    /// The token endpoint and the form to post there: a signed JWT
    /// assertion (RFC 7523) for a service account, a refresh for a user.
    fn token_request(&self, subject: &str) -> Result<(String, String), String> {
        match self {
            Credentials::ServiceAccount {
                email,
                key_id,
                key,
                token_uri,
            } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let mut claims = json!({
                    "iss": email,
                    "scope": SCOPES,
                    "aud": token_uri,
                    "iat": now,
                    "exp": now + 3600,
                });
                if !subject.is_empty() {
                    claims["sub"] = Value::from(subject);
                }
                let mut header = json!({"alg": "RS256", "typ": "JWT"});
                if !key_id.is_empty() {
                    header["kid"] = Value::from(key_id.as_str());
                }
                let input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| "could not sign the token request".to_string())?;
                let assertion = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
                Ok((
                    token_uri.clone(),
                    format!(
                        "grant_type={}&assertion={assertion}",
                        query_escape("urn:ietf:params:oauth:grant-type:jwt-bearer")
                    ),
                ))
            }
            Credentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => Ok((
                token_uri.clone(),
                format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    query_escape(client_id),
                    query_escape(client_secret),
                    query_escape(refresh_token)
                ),
            )),
        }
    }
}

/// A service account's RSA key, PKCS#8 (`PRIVATE KEY`) or PKCS#1.
fn rsa_key(pem: &str) -> Result<RsaKeyPair, String> {
    let block = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .ok_or("private_key holds no PEM block")?
        .map_err(|e| format!("private_key: {e}"))?;
    match block.label.as_str() {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&block.contents),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&block.contents),
        other => return Err(format!("private_key is a {other:?}, not an RSA key")),
    }
    .map_err(|e| format!("private_key is not a usable RSA key: {e}"))
}

/// Application Default Credentials as a file: `GOOGLE_APPLICATION_CREDENTIALS`,
/// else gcloud's well-known file. The metadata server of a Google VM is not
/// consulted.
fn default_credentials() -> Result<String, String> {
    if let Some(path) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
        return std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS \
                 environment variable: {e}"
            )
        });
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path =
            std::path::Path::new(&home).join(".config/gcloud/application_default_credentials.json");
        if path.is_file() {
            return std::fs::read_to_string(&path).map_err(|e| e.to_string());
        }
    }
    Err(
        "google: could not find default credentials (set gsuite_service_account or \
         GOOGLE_APPLICATION_CREDENTIALS; the metadata server is not consulted)"
            .into(),
    )
}
