//! `okta`: Okta cuts the groups claim at a limit (100 by default) without
//! saying so. With `fetch_groups`, a claim that reaches the limit (or is
//! missing) is replaced by the user's groups from Okta's admin API
//! (`GET /api/v1/users/{user}/groups`, an SSWS API token, `Link` paging).
//! `groups_filter` keeps the names matching a regular expression.

use regex_lite::Regex;
use serde_json::{Map, Value};

use super::{Settings, origin, path_segment};
use crate::config::Config;
use crate::http::{Client, HttpError};
use crate::role::Role;

/// Okta's default cut of the groups claim.
const DEFAULT_GROUPS_CAP: i64 = 100;
/// Pages followed before giving up (a looping `Link` header).
const MAX_PAGES: usize = 200;

pub struct Okta {
    org_url: String,
    api_token: String,
    user_id_claim: String,
    groups_cap: usize,
    groups_filter: Option<Regex>,
    fetch_groups: bool,
    http: Client,
}

impl Okta {
    pub(super) fn new(settings: &Settings, config: &Config, http: Client) -> Result<Self, String> {
        let mut org_url = settings.string("org_url")?;
        let api_token = settings.string("api_token")?;
        let user_id_claim = settings.string("user_id_claim")?;
        let groups_cap = settings.int("groups_cap")?;
        let groups_filter = settings.string("groups_filter")?;
        let fetch_groups = settings.bool("fetch_groups")?;
        if org_url.is_empty() && !config.oidc_discovery_url.is_empty() {
            org_url = origin(&config.oidc_discovery_url)
                .unwrap_or_default()
                .to_string();
        }
        if !org_url.is_empty() {
            if !org_url.starts_with("https://") {
                return Err("org_url must use https".into());
            }
            // Only scheme and host: a copied discovery URL often has a path.
            org_url = origin(&org_url)
                .ok_or("org_url must include a host")?
                .to_string();
        }
        if fetch_groups {
            if org_url.is_empty() {
                return Err(
                    "'org_url' must be set in provider_config or oidc_discovery_url \
                            must be configured when fetch_groups=true"
                        .into(),
                );
            }
            if api_token.is_empty() {
                return Err(
                    "'api_token' is required in provider_config when fetch_groups=true".into(),
                );
            }
        }
        if groups_cap < 0 {
            return Err("groups_cap must be >= 0".into());
        }
        let groups_cap = if groups_cap == 0 {
            DEFAULT_GROUPS_CAP
        } else {
            groups_cap
        };
        let groups_filter = if groups_filter.is_empty() {
            None
        } else {
            Some(
                Regex::new(&groups_filter)
                    .map_err(|e| format!("invalid groups_filter regex: {e}"))?,
            )
        };
        Ok(Okta {
            org_url,
            api_token,
            user_id_claim,
            groups_cap: usize::try_from(groups_cap).unwrap_or(usize::MAX),
            groups_filter,
            fetch_groups,
            http,
        })
    }

    pub async fn fetch_groups(
        &self,
        claims: &Map<String, Value>,
        role: &Role,
    ) -> Result<Value, String> {
        let in_token = crate::claims::get_claim(claims, &role.groups_claim);
        let listed = in_token.as_ref().and_then(list);
        if !self.fetch_groups {
            let Some(groups) = in_token else {
                return Err(format!("{:?} claim not found in token", role.groups_claim));
            };
            return Ok(match (&self.groups_filter, listed) {
                (Some(_), Some(list)) => self.filter(list),
                _ => groups,
            });
        }
        if let (Some(groups), Some(list)) = (&in_token, &listed)
            && list.len() < self.groups_cap
        {
            // Under the cut: the token has them all.
            return Ok(match &self.groups_filter {
                Some(_) => self.filter(list.clone()),
                None => groups.clone(),
            });
        }
        let user = self.user_id(claims, role)?;
        let groups = self
            .api_groups(&user)
            .await
            .map_err(|e| format!("unable to fetch groups from Okta API: {e}"))?;
        Ok(self.filter(groups))
    }

    fn user_id(&self, claims: &Map<String, Value>, role: &Role) -> Result<String, String> {
        let claim = if self.user_id_claim.is_empty() {
            &role.user_claim
        } else {
            &self.user_id_claim
        };
        if claim.is_empty() {
            return Err("user_id_claim is unset and role has no user_claim".into());
        }
        match crate::claims::get_claim(claims, claim) {
            None => Err(format!(
                "unable to locate {claim:?} in claims for Okta user lookup"
            )),
            Some(Value::String(s)) if s.is_empty() => Err(format!(
                "claim {claim:?} is empty; cannot use for Okta user lookup"
            )),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!(
                "claim {claim:?} is not a string; cannot use for Okta user lookup"
            )),
        }
    }

    /// Every page of the user's groups. A next link must stay on
    /// `org_url`'s origin: the API token goes with every page, and the
    /// reference follows a link anywhere.
    async fn api_groups(&self, user: &str) -> Result<Vec<Value>, String> {
        let mut next = format!(
            "{}/api/v1/users/{}/groups",
            self.org_url,
            path_segment(user)
        );
        let auth = [("authorization", format!("SSWS {}", self.api_token))];
        let mut groups = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .http
                .get_reply(&next, &auth)
                .await
                .map_err(|e| match e {
                    HttpError::Status { status, body, .. } => {
                        format!("okta api returned {status}: {body}")
                    }
                    other => format!("unable to call Okta API: {other}"),
                })?;
            let page: Vec<Value> = serde_json::from_slice(&reply.body)
                .map_err(|e| format!("unable to decode Okta API response: {e}"))?;
            groups.extend(
                page.iter()
                    .filter_map(|g| g.pointer("/profile/name")?.as_str())
                    .filter(|name| !name.is_empty())
                    .map(Value::from),
            );
            match next_link(&reply.links) {
                None => return Ok(groups),
                Some(link) if origin(&link) == Some(self.org_url.as_str()) => next = link,
                Some(link) => {
                    return Err(format!(
                        "the next page {link:?} is not on org_url {}",
                        self.org_url
                    ));
                }
            }
        }
        Err(format!(
            "okta API pagination exceeded {MAX_PAGES} pages; possible circular Link header"
        ))
    }

    /// The string names matching `groups_filter` (all strings without one).
    fn filter(&self, list: Vec<Value>) -> Value {
        Value::Array(
            list.into_iter()
                .filter(|g| match (g, &self.groups_filter) {
                    (Value::String(s), Some(re)) => re.is_match(s),
                    (Value::String(_), None) => true,
                    _ => self.groups_filter.is_none(),
                })
                .collect(),
        )
    }
}

/// A claim as a list, as the reference's `normalizeList`.
fn list(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) => Some(items.clone()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![value.clone()]),
        _ => None,
    }
}

/// The `rel="next"` target of RFC 8288 `Link` headers.
fn next_link(headers: &[String]) -> Option<String> {
    headers.iter().flat_map(|h| h.split(',')).find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_found_among_others() {
        let h = vec![
            "<https://o.example/api/v1/users/u/groups?limit=2>; rel=\"self\"".to_string(),
            "<https://o.example/api/v1/users/u/groups?after=x>; rel=\"next\"".to_string(),
        ];
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://o.example/api/v1/users/u/groups?after=x")
        );
        let joined = vec!["<https://a/1>; rel=\"self\", <https://a/2>; rel = \"next\"".to_string()];
        assert_eq!(next_link(&joined).as_deref(), Some("https://a/2"));
        assert_eq!(
            next_link(&["<https://a/1>; rel=\"self\"".to_string()]),
            None
        );
    }
}
