//! The STS calls behind `assumed_role`, `federation_token` and
//! `session_token` credentials. As for IAM users, each call is first a
//! plain value (tests check its parameters, which the emulator does not
//! enforce), then sent to the configured STS endpoint, falling back to the
//! next configured endpoint when one fails.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use serde_json::Value;

use crate::client::{AwsError, StsTarget};

#[derive(Clone, Debug, PartialEq)]
pub enum StsCall {
    AssumeRole {
        role_arn: String,
        role_session_name: String,
        duration_seconds: i32,
        policy: Option<String>,
        policy_arns: Vec<String>,
        tags: Vec<(String, String)>,
        external_id: Option<String>,
    },
    GetFederationToken {
        name: String,
        duration_seconds: i32,
        policy: Option<String>,
        policy_arns: Vec<String>,
    },
    GetSessionToken {
        duration_seconds: i32,
        serial_number: Option<String>,
        token_code: Option<String>,
    },
}

impl StsCall {
    /// The reference's prefix for this call's failure.
    pub fn failure(&self) -> &'static str {
        match self {
            StsCall::AssumeRole { .. } => "Error assuming role",
            StsCall::GetFederationToken { .. } | StsCall::GetSessionToken { .. } => {
                "Error generating STS keys"
            }
        }
    }
}

pub struct StsCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
    /// The assumed role's session ARN (AssumeRole only).
    pub arn: Option<String>,
}

impl StsCredentials {
    /// The time left, as the lease's TTL.
    pub fn ttl(&self) -> Duration {
        self.expiration
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.to_string()).filter(|s| !s.is_empty())
}

/// `Some(policy)` unless empty: STS refuses an empty `Policy`.
pub fn policy_param(policy: &str) -> Option<String> {
    non_empty(policy)
}

/// Sends `call`, trying each target in order until one answers.
pub async fn execute(targets: &[StsTarget], call: &StsCall) -> Result<StsCredentials, AwsError> {
    let mut last = AwsError {
        code: None,
        message: "no STS endpoint configured".into(),
    };
    for (i, target) in targets.iter().enumerate() {
        match send(&target.client, call).await {
            Ok(creds) => return Ok(creds),
            // A refusal from STS itself would be the same elsewhere; only
            // an endpoint that did not answer is worth the next one.
            Err((err, reached)) => {
                if reached || i + 1 == targets.len() {
                    return Err(err);
                }
                tracing::warn!(region = %target.region, error = %err, "STS endpoint failed, trying the next");
                last = err;
            }
        }
    }
    Err(last)
}

fn sdk_err<E, R>(err: aws_sdk_sts::error::SdkError<E, R>) -> (AwsError, bool)
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let reached = matches!(err, aws_sdk_sts::error::SdkError::ServiceError(_));
    (AwsError::from_sdk(&err), reached)
}

fn missing(what: &str) -> (AwsError, bool) {
    (
        AwsError {
            code: None,
            message: format!("STS returned no {what}"),
        },
        true,
    )
}

fn credentials(
    c: Option<&aws_sdk_sts::types::Credentials>,
    arn: Option<String>,
) -> Result<StsCredentials, (AwsError, bool)> {
    let c = c.ok_or_else(|| missing("credentials"))?;
    let secs = c.expiration().secs();
    let expiration = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH
    };
    Ok(StsCredentials {
        access_key: c.access_key_id().to_string(),
        secret_key: c.secret_access_key().to_string(),
        session_token: c.session_token().to_string(),
        expiration,
        arn,
    })
}

fn descriptors(arns: &[String]) -> Option<Vec<PolicyDescriptorType>> {
    if arns.is_empty() {
        return None;
    }
    Some(
        arns.iter()
            .map(|a| PolicyDescriptorType::builder().arn(a).build())
            .collect(),
    )
}

async fn send(
    client: &aws_sdk_sts::Client,
    call: &StsCall,
) -> Result<StsCredentials, (AwsError, bool)> {
    match call {
        StsCall::AssumeRole {
            role_arn,
            role_session_name,
            duration_seconds,
            policy,
            policy_arns,
            tags,
            external_id,
        } => {
            let tags = if tags.is_empty() {
                None
            } else {
                Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| {
                            (
                                AwsError {
                                    code: None,
                                    message: e.to_string(),
                                },
                                true,
                            )
                        })?,
                )
            };
            let out = client
                .assume_role()
                .role_arn(role_arn)
                .role_session_name(role_session_name)
                .duration_seconds(*duration_seconds)
                .set_policy(policy.clone())
                .set_policy_arns(descriptors(policy_arns))
                .set_tags(tags)
                .set_external_id(external_id.clone())
                .send()
                .await
                .map_err(sdk_err)?;
            let arn = out.assumed_role_user().map(|u| u.arn().to_string());
            credentials(out.credentials(), arn)
        }
        StsCall::GetFederationToken {
            name,
            duration_seconds,
            policy,
            policy_arns,
        } => {
            let out = client
                .get_federation_token()
                .name(name)
                .duration_seconds(*duration_seconds)
                .set_policy(policy.clone())
                .set_policy_arns(descriptors(policy_arns))
                .send()
                .await
                .map_err(sdk_err)?;
            credentials(out.credentials(), None)
        }
        StsCall::GetSessionToken {
            duration_seconds,
            serial_number,
            token_code,
        } => {
            let out = client
                .get_session_token()
                .duration_seconds(*duration_seconds)
                .set_serial_number(serial_number.clone())
                .set_token_code(token_code.clone())
                .send()
                .await
                .map_err(sdk_err)?;
            credentials(out.credentials(), None)
        }
    }
}

/// The inline policy documents and managed policy ARNs of `groups`, which
/// the reference folds into an STS call's session policies.
pub async fn group_policies(
    iam: &aws_sdk_iam::Client,
    groups: &[String],
) -> Result<(Vec<String>, Vec<String>), AwsError> {
    let mut documents = Vec::new();
    let mut arns = Vec::new();
    for group in groups {
        let attached = iam
            .list_attached_group_policies()
            .group_name(group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        arns.extend(
            attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string)),
        );
        let inline = iam
            .list_group_policies()
            .group_name(group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        for name in inline.policy_names() {
            let doc = iam
                .get_group_policy()
                .group_name(group)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            documents.push(
                query_unescape(doc.policy_document()).map_err(|message| AwsError {
                    code: None,
                    message,
                })?,
            );
        }
    }
    Ok((documents, arns))
}

/// Go's `url.QueryUnescape`: IAM returns policy documents URL-encoded.
fn query_unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid URL escape in policy document at {i}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "policy document is not UTF-8".to_string())
}

/// One policy document holding every statement of `policies` (each may
/// have one statement or a list), as the reference combines them.
pub fn combine_policy_documents(policies: &[String]) -> Result<String, String> {
    let mut statements = Vec::new();
    for p in policies.iter().filter(|p| !p.is_empty()) {
        let doc: Value = serde_json::from_str(p).map_err(|e| e.to_string())?;
        match doc.get("Statement") {
            Some(Value::Array(list)) => statements.extend(list.iter().cloned()),
            Some(Value::Null) | None => {}
            Some(single) => statements.push(single.clone()),
        }
    }
    // Written by hand so Version comes first, as Go's struct order has it;
    // the statements' own keys come out sorted, as Go sorts map keys.
    let statements = serde_json::to_string(&statements).map_err(|e| e.to_string())?;
    Ok(format!(
        r#"{{"Version":"2012-10-17","Statement":{statements}}}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_role_policies_combine_into_one_document() {
        let group = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        let role = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}"#;
        assert_eq!(
            combine_policy_documents(&[group.into(), role.into(), String::new()]),
            Ok(r#"{"Version":"2012-10-17","Statement":[{"Action":"s3:*","Effect":"Allow","Resource":"*"},{"Action":"ec2:*","Effect":"Deny","Resource":"*"}]}"#.to_string())
        );
        assert!(combine_policy_documents(&["{".into()]).is_err());
    }

    #[test]
    fn iam_policy_documents_are_url_decoded() {
        assert_eq!(
            query_unescape("%7B%22Version%22%3A+%222012-10-17%22%7D").as_deref(),
            Ok(r#"{"Version": "2012-10-17"}"#)
        );
        assert!(query_unescape("%zz").is_err());
    }
}
