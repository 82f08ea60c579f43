//! Google OAuth access tokens for `gsuite`'s Directory API calls, from:
//! - a service account key: an RS256 assertion (RFC 7523), for a Workspace
//!   user when domain-wide delegation names one;
//! - gcloud's user credentials (a refresh token);
//! - the metadata server of a Google VM or GKE node (the instance's own
//!   service account);
//! - and, with `impersonate_principal`, any of those as the base identity
//!   asking the IAM Credentials API for another service account's token.
//!
//! Application Default Credentials are looked up as Google's libraries do,
//! except that the metadata server is only used where it is known to exist
//! (`GCE_METADATA_HOST`, or a machine whose firmware says Google): Go's
//! libraries probe 169.254.169.254 over the network on every machine.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Environment, path_segment};
use crate::http::Client;
use crate::oidc::query_escape;

/// What the Directory API calls need.
pub const DIRECTORY_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
];
/// What the base identity of an impersonation needs for the IAM Credentials
/// API, as Google's libraries ask.
const CLOUD_PLATFORM: &[&str] = &["https://www.googleapis.com/auth/cloud-platform"];
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const DEFAULT_IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com";
/// The metadata server's link-local address on every Google VM.
const METADATA_IP: &str = "169.254.169.254";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime asked for impersonated tokens and signed assertions.
const LIFETIME: Duration = Duration::from_secs(3600);
/// Longest a token is believed to live, whatever the server says.
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// An access token and how long it lives from when it was received.
pub struct AccessToken {
    pub token: String,
    pub lifetime: Duration,
}

/// An identity that can get access tokens itself.
pub enum Credentials {
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
    /// The metadata server at `host` (`host[:port]`).
    Metadata { host: String },
}

/// `impersonate_principal`: the service account whose tokens the base
/// identity asks the IAM Credentials API for.
pub struct Impersonation {
    pub principal: String,
    pub iam_credentials_url: String,
    /// Where a signed assertion for a Workspace user is exchanged.
    pub token_url: String,
}

/// Where the Directory API's tokens come from.
pub enum TokenSource {
    Direct(Credentials),
    Impersonated {
        base: Credentials,
        target: Impersonation,
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

impl Credentials {
    pub fn parse(json: &str) -> Result<Self, String> {
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

    /// Application Default Credentials: the file `GOOGLE_APPLICATION_CREDENTIALS`
    /// names, else gcloud's well-known file, else the metadata server.
    pub fn from_environment(env: &Environment) -> Result<Self, String> {
        if let Some(path) = (env.var)("GOOGLE_APPLICATION_CREDENTIALS") {
            let json = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS \
                     environment variable: {e}"
                )
            })?;
            return Credentials::parse(&json);
        }
        if let Some(home) = (env.var)("HOME") {
            let path = std::path::Path::new(&home)
                .join(".config/gcloud/application_default_credentials.json");
            if path.is_file() {
                let json = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                return Credentials::parse(&json);
            }
        }
        if let Some(host) = (env.var)("GCE_METADATA_HOST").and_then(|h| h.into_string().ok())
            && !host.is_empty()
        {
            return Ok(Credentials::Metadata { host });
        }
        if (env.product_name)().is_some_and(|name| name.trim().starts_with("Google")) {
            return Ok(Credentials::Metadata {
                host: METADATA_IP.into(),
            });
        }
        Err("google: could not find default credentials. See \
             https://cloud.google.com/docs/authentication/external/set-up-adc for more \
             information"
            .into())
    }

    /// A token for `scopes`, for `subject` by domain-wide delegation when
    /// not empty (service account keys only; the others act as themselves).
    pub async fn token(
        &self,
        http: &Client,
        scopes: &[&str],
        subject: &str,
    ) -> Result<AccessToken, String> {
        match self {
            Credentials::ServiceAccount {
                email,
                key_id,
                key,
                token_uri,
            } => {
                let mut claims = assertion_claims(email, scopes, token_uri);
                if !subject.is_empty() {
                    claims["sub"] = Value::from(subject);
                }
                let assertion = sign_rs256(key, key_id, &claims)?;
                exchange_assertion(http, token_uri, &assertion)
                    .await
                    .map_err(|e| format!("oauth2: {e}"))
            }
            Credentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => {
                let form = format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    query_escape(client_id),
                    query_escape(client_secret),
                    query_escape(refresh_token)
                );
                let body = http
                    .post_form(token_uri, &form, &[])
                    .await
                    .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
                token_answer(&body).map_err(|e| format!("oauth2: {e}"))
            }
            Credentials::Metadata { host } => {
                let url = format!(
                    "http://{host}/computeMetadata/v1/instance/service-accounts/default/token\
                     ?scopes={}",
                    query_escape(&scopes.join(","))
                );
                let body = http
                    .get_with(&url, &[("metadata-flavor", "Google".to_string())])
                    .await
                    .map_err(|e| format!("compute: cannot fetch token: {e}"))?;
                token_answer(&body).map_err(|e| format!("compute: {e}"))
            }
        }
    }
}

impl TokenSource {
    /// A Directory API token, for `subject` (`gsuite_admin_impersonate`)
    /// when not empty.
    pub async fn token(&self, http: &Client, subject: &str) -> Result<AccessToken, String> {
        match self {
            TokenSource::Direct(credentials) => {
                credentials.token(http, DIRECTORY_SCOPES, subject).await
            }
            TokenSource::Impersonated { base, target } => {
                let base = base.token(http, CLOUD_PLATFORM, "").await?;
                if subject.is_empty() {
                    target.access_token(http, &base.token).await
                } else {
                    target.token_for_user(http, &base.token, subject).await
                }
            }
        }
    }
}

impl Impersonation {
    fn endpoint(&self, method: &str) -> String {
        format!(
            "{}/v1/projects/-/serviceAccounts/{}:{method}",
            self.iam_credentials_url,
            path_segment(&self.principal)
        )
    }

    /// POSTs `request` to the principal's `method` as `base`, and returns
    /// the answer's `field` (empty when it is missing).
    async fn call(
        &self,
        http: &Client,
        method: &str,
        request: Value,
        base: &str,
        field: &str,
    ) -> Result<String, String> {
        let body = http
            .post_json(
                &self.endpoint(method),
                &request.to_string(),
                &[("authorization", format!("Bearer {base}"))],
            )
            .await
            .map_err(|e| e.to_string())?;
        let answer: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(answer[field].as_str().unwrap_or_default().to_string())
    }

    /// The principal's own token (`generateAccessToken`).
    async fn access_token(&self, http: &Client, base: &str) -> Result<AccessToken, String> {
        let request = json!({
            "delegates": [],
            "scope": DIRECTORY_SCOPES,
            "lifetime": format!("{}s", LIFETIME.as_secs()),
        });
        let token = self
            .call(http, "generateAccessToken", request, base, "accessToken")
            .await
            .and_then(|t| non_empty(t, "accessToken"))
            .map_err(|e| format!("impersonate: unable to generate access token: {e}"))?;
        Ok(AccessToken {
            token,
            lifetime: LIFETIME,
        })
    }

    /// A token for a Workspace user by the principal's domain-wide
    /// delegation: the IAM Credentials API signs the assertion
    /// (`signJwt`), which is then exchanged like a key's.
    async fn token_for_user(
        &self,
        http: &Client,
        base: &str,
        subject: &str,
    ) -> Result<AccessToken, String> {
        let mut claims = assertion_claims(&self.principal, DIRECTORY_SCOPES, &self.token_url);
        claims["sub"] = Value::from(subject);
        let request = json!({"delegates": [], "payload": claims.to_string()});
        let assertion = self
            .call(http, "signJwt", request, base, "signedJwt")
            .await
            .and_then(|t| non_empty(t, "signedJwt"))
            .map_err(|e| format!("impersonate: unable to sign JWT: {e}"))?;
        exchange_assertion(http, &self.token_url, &assertion)
            .await
            .map_err(|e| format!("impersonate: unable to exchange token: {e}"))
    }
}

fn non_empty(value: String, field: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("response missing {field}"))
    } else {
        Ok(value)
    }
}

/// The claims of an RFC 7523 assertion `issuer` makes for `scopes`.
fn assertion_claims(issuer: &str, scopes: &[&str], audience: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    json!({
        "iss": issuer,
        "scope": scopes.join(" "),
        "aud": audience,
        "iat": now,
        "exp": now + LIFETIME.as_secs(),
    })
}

fn sign_rs256(key: &RsaKeyPair, key_id: &str, claims: &Value) -> Result<String, String> {
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if !key_id.is_empty() {
        header["kid"] = Value::from(key_id);
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
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

async fn exchange_assertion(
    http: &Client,
    token_url: &str,
    assertion: &str,
) -> Result<AccessToken, String> {
    let form = format!(
        "grant_type={}&assertion={assertion}",
        query_escape(JWT_BEARER)
    );
    let body = http
        .post_form(token_url, &form, &[])
        .await
        .map_err(|e| format!("cannot fetch token: {e}"))?;
    token_answer(&body)
}

/// An OAuth token endpoint's (or the metadata server's) answer.
fn token_answer(body: &[u8]) -> Result<AccessToken, String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        access_token: String,
        expires_in: Option<u64>,
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("cannot parse token response: {e}"))?;
    if answer.access_token.is_empty() {
        return Err("server response missing access_token".into());
    }
    Ok(AccessToken {
        token: answer.access_token,
        lifetime: answer
            .expires_in
            .map_or(LIFETIME, Duration::from_secs)
            .min(MAX_LIFETIME),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn found(env: &Environment) -> Result<&'static str, String> {
        Credentials::from_environment(env).map(|c| match c {
            Credentials::ServiceAccount { .. } => "service account",
            Credentials::AuthorizedUser { .. } => "user",
            Credentials::Metadata { .. } => "metadata",
        })
    }

    #[test]
    fn default_credentials_are_looked_up_in_googles_order() {
        let nothing = Environment {
            var: |_| None,
            product_name: || None,
        };
        assert_eq!(
            found(&nothing).err().as_deref(),
            Some(
                "google: could not find default credentials. See \
                 https://cloud.google.com/docs/authentication/external/set-up-adc for more \
                 information"
            )
        );
        let on_gce = Environment {
            var: |_| None,
            product_name: || Some("Google Compute Engine\n".into()),
        };
        assert!(matches!(
            Credentials::from_environment(&on_gce),
            Ok(Credentials::Metadata { host }) if host == METADATA_IP
        ));
        let elsewhere = Environment {
            var: |_| None,
            product_name: || Some("Standard PC (Q35 + ICH9, 2009)".into()),
        };
        assert!(found(&elsewhere).is_err());
        let metadata_host = Environment {
            var: |name| (name == "GCE_METADATA_HOST").then(|| "127.0.0.1:8181".into()),
            product_name: || None,
        };
        assert!(matches!(
            Credentials::from_environment(&metadata_host),
            Ok(Credentials::Metadata { host }) if host == "127.0.0.1:8181"
        ));
        // A named file wins over the metadata server, and its errors are
        // reported rather than skipped.
        let missing_file = Environment {
            var: |name| match name {
                "GOOGLE_APPLICATION_CREDENTIALS" => Some("/nonexistent/adc.json".into()),
                "GCE_METADATA_HOST" => Some("127.0.0.1:8181".into()),
                _ => None,
            },
            product_name: || Some("Google".into()),
        };
        assert!(
            found(&missing_file)
                .err()
                .is_some_and(|e| e.starts_with("google: error getting credentials using"))
        );
    }

    #[test]
    fn token_answers_are_read_with_a_bounded_lifetime() {
        let t = token_answer(br#"{"access_token":"ya29.x","expires_in":3599}"#).expect("ok");
        assert_eq!((t.token.as_str(), t.lifetime.as_secs()), ("ya29.x", 3599));
        let t = token_answer(br#"{"access_token":"a","expires_in":99999999}"#).expect("ok");
        assert_eq!(t.lifetime, MAX_LIFETIME);
        assert_eq!(
            token_answer(br#"{"token_type":"Bearer"}"#).err().as_deref(),
            Some("server response missing access_token")
        );
    }
}
