//! `azure`: when a user is in more groups than fit in a token (200), Azure
//! AD / Entra ID leaves the groups claim out and names a distributed claim
//! source (OIDC Core 1.0, section 5.6.2) to ask instead, with the access
//! token of the login.

use serde_json::{Map, Value};

use crate::http::Client;
use crate::role::Role;

/// Azure AD Graph hosts (retired) and the Microsoft Graph hosts that
/// replace them.
const GRAPH_REWRITES: &[(&str, &str)] = &[
    ("graph.windows.net", "graph.microsoft.com"),
    ("graph.microsoftazure.us", "graph.microsoft.us"),
];

pub struct Azure {
    http: Client,
}

impl Azure {
    pub fn new(http: Client) -> Self {
        Azure { http }
    }

    pub async fn fetch_groups(
        &self,
        claims: &Map<String, Value>,
        role: &Role,
        access_token: &str,
    ) -> Result<Value, String> {
        if let Some(groups) = crate::claims::get_claim(claims, &role.groups_claim) {
            return Ok(groups);
        }
        let source = claim_source(claims, &role.groups_claim)
            .map_err(|e| format!("unable to get claim sources: {e}"))?;
        self.member_groups(&source, access_token)
            .await
            .map_err(|e| format!("{:?} claim not found in token: {e}", role.groups_claim))
    }

    async fn member_groups(&self, url: &str, access_token: &str) -> Result<Value, String> {
        if access_token.is_empty() {
            return Err("token unavailable to call Microsoft Graph API".into());
        }
        let body = self
            .http
            .post_json(
                url,
                r#"{"securityEnabledOnly": false}"#,
                &[("authorization", format!("Bearer {access_token}"))],
            )
            .await
            .map_err(|e| match e {
                crate::http::HttpError::Status { body, .. } => {
                    format!("failed to get groups: {body}")
                }
                other => format!("unable to call Microsoft Graph API: {other}"),
            })?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("unabled to decode response: {e}"))?;
        Ok(match answer.get("value") {
            Some(Value::Array(groups)) => Value::Array(groups.clone()),
            _ => Value::Null,
        })
    }
}

/// The endpoint the token names for its groups claim, moved from the
/// retired Azure AD Graph to Microsoft Graph. Only HTTPS is accepted: the
/// login's access token is sent there.
fn claim_source(claims: &Map<String, Value>, groups_claim: &str) -> Result<String, String> {
    let source = crate::claims::get_claim(claims, &format!("/_claim_names/{groups_claim}"))
        .ok_or_else(|| format!("unable to locate groups claim {groups_claim:?} in _claim_names"))?;
    let source = crate::claims::go_format(&source);
    let pointer = format!("/_claim_sources/{source}/endpoint");
    let endpoint = crate::claims::get_claim(claims, &pointer)
        .ok_or_else(|| format!("unable to locate {pointer} in claims"))?;
    let endpoint = crate::claims::go_format(&endpoint);
    let Some(rest) = endpoint.strip_prefix("https://") else {
        return Err(format!(
            "unable to parse claim source URL: {endpoint:?} is not an https URL"
        ));
    };
    let (host, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    for (old, new) in GRAPH_REWRITES {
        if host == *old {
            return Ok(format!("https://{new}/v1.0{path}"));
        }
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_claim_source_moves_to_microsoft_graph() {
        let c = claims(json!({
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint":
                "https://graph.windows.net/tenant/users/u1/getMemberObjects"}},
        }));
        assert_eq!(
            claim_source(&c, "groups").expect("a source"),
            "https://graph.microsoft.com/v1.0/tenant/users/u1/getMemberObjects"
        );
        let c = claims(json!({
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://127.0.0.1:8443/me/getMemberObjects"}},
        }));
        assert_eq!(
            claim_source(&c, "groups").expect("a source"),
            "https://127.0.0.1:8443/me/getMemberObjects"
        );
    }

    #[test]
    fn a_missing_or_plain_http_source_is_refused() {
        assert_eq!(
            claim_source(&claims(json!({})), "groups").expect_err("refused"),
            "unable to locate groups claim \"groups\" in _claim_names"
        );
        let c = claims(json!({"_claim_names": {"groups": "src1"}}));
        assert_eq!(
            claim_source(&c, "groups").expect_err("refused"),
            "unable to locate /_claim_sources/src1/endpoint in claims"
        );
        let c = claims(json!({
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "http://graph.example/x"}},
        }));
        assert!(
            claim_source(&c, "groups")
                .expect_err("refused")
                .contains("not an https URL")
        );
    }
}
