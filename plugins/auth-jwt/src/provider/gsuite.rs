//! `gsuite`: Google's ID tokens carry no groups. With `fetch_groups`, the
//! user's groups come from the Google Workspace Directory API (optionally
//! the groups of those groups, `groups_recurse_max_depth` deep); with
//! `fetch_user_info`, the user's `user_custom_schemas` become claims.
//!
//! The API is called as a service account (`gsuite_service_account`, a key
//! file's path or contents; or `impersonate_principal` through the IAM
//! Credentials API; else Application Default Credentials), for
//! `gsuite_admin_impersonate` by domain-wide delegation: see
//! [`super::google_credentials`]. The access token is kept until shortly
//! before it expires; the reference asks for a new one every login.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::google_credentials::{
    Credentials, DEFAULT_IAM_CREDENTIALS_URL, DEFAULT_TOKEN_URI, Impersonation, TokenSource,
};
use super::{Environment, Settings, path_segment, user_claim};
use crate::http::{Client, HttpError};
use crate::oidc::query_escape;
use crate::role::Role;

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
    source: TokenSource,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    http: Client,
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
        if depth < 0 {
            return Err("'gsuite_recurse_max_depth' must be a positive integer".into());
        }
        let directory_url = https_url(settings, "directory_api_url", DEFAULT_DIRECTORY_URL)?;
        let iam_credentials_url = https_url(
            settings,
            "iam_credentials_api_url",
            DEFAULT_IAM_CREDENTIALS_URL,
        )?;
        let token_url = https_url(settings, "oauth2_token_url", DEFAULT_TOKEN_URI)?;
        let source = if !service_account.is_empty() {
            let json = if std::path::Path::new(&service_account).is_file() {
                std::fs::read_to_string(&service_account).map_err(|e| e.to_string())?
            } else {
                service_account
            };
            TokenSource::Direct(
                Credentials::parse(&json)
                    .map_err(|e| format!("error parsing service account JSON: {e}"))?,
            )
        } else if !impersonate_principal.is_empty() {
            let base = Credentials::from_environment(&Environment::PROCESS).map_err(|e| {
                format!("failed to impersonate principal: {impersonate_principal:?}: {e}")
            })?;
            TokenSource::Impersonated {
                base,
                target: Impersonation {
                    principal: impersonate_principal,
                    iam_credentials_url,
                    token_url,
                },
            }
        } else {
            TokenSource::Direct(
                Credentials::from_environment(&Environment::PROCESS)
                    .map_err(|e| format!("failed to find application default credentials: {e}"))?,
            )
        };
        Ok(GSuite {
            admin_impersonate,
            fetch_groups,
            fetch_user_info,
            recurse_max_depth: u32::try_from(depth).unwrap_or(u32::MAX),
            user_custom_schemas,
            domain,
            directory_url,
            source,
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
        let fresh = self
            .source
            .token(&self.http, &self.admin_impersonate)
            .await?;
        *cached = Some((fresh.token.clone(), Instant::now() + fresh.lifetime));
        Ok(fresh.token)
    }
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

/// `key`'s URL from the settings (else `default`), which must be HTTPS,
/// without a trailing slash.
fn https_url(settings: &Settings, key: &str, default: &str) -> Result<String, String> {
    let url = settings.string(key)?;
    let url = if url.is_empty() {
        default.to_string()
    } else {
        url
    };
    if !url.starts_with("https://") {
        return Err(format!("{key} must use https"));
    }
    Ok(url.trim_end_matches('/').to_string())
}
