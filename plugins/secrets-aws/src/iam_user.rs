//! The IAM calls behind an `iam_user` credential: the plan (which calls,
//! with which parameters, in which order) is a plain value so tests can
//! check exactly what is sent, including what the emulator ignores
//! (permissions boundaries); `execute` sends it; `delete_user` undoes it.

use std::time::Duration;

use aws_sdk_iam::types::Tag;

use crate::client::AwsError;
use crate::role::Role;

/// One IAM call made for a new user, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum IamCall {
    CreateUser {
        user_name: String,
        path: String,
        permissions_boundary: Option<String>,
    },
    AttachUserPolicy {
        policy_arn: String,
    },
    PutUserPolicy {
        policy_name: String,
        policy_document: String,
    },
    AddUserToGroup {
        group_name: String,
    },
    TagUser {
        tags: Vec<(String, String)>,
    },
    CreateAccessKey,
}

impl IamCall {
    /// The reference's prefix for this step's failure.
    fn failure(&self) -> &'static str {
        match self {
            IamCall::CreateUser { .. } => "Error creating IAM user",
            IamCall::AttachUserPolicy { .. } => "Error attaching user policy",
            IamCall::PutUserPolicy { .. } => "Error putting user policy",
            IamCall::AddUserToGroup { .. } => "Error adding user to group",
            IamCall::TagUser { .. } => "Error adding tags to user",
            IamCall::CreateAccessKey => "Error creating access keys",
        }
    }
}

/// The calls that make user `user_name` for role `role_name`, in the
/// reference's order: user, managed policies, inline policy (named after
/// the role), groups, tags, then the access key.
pub fn plan(role: &Role, role_name: &str, user_name: &str) -> Vec<IamCall> {
    let mut calls = vec![IamCall::CreateUser {
        user_name: user_name.to_string(),
        path: if role.user_path.is_empty() {
            "/".to_string()
        } else {
            role.user_path.clone()
        },
        permissions_boundary: Some(role.permissions_boundary_arn.clone())
            .filter(|arn| !arn.is_empty()),
    }];
    calls.extend(
        role.policy_arns()
            .iter()
            .map(|arn| IamCall::AttachUserPolicy {
                policy_arn: arn.clone(),
            }),
    );
    if !role.policy_document.is_empty() {
        calls.push(IamCall::PutUserPolicy {
            policy_name: role_name.to_string(),
            policy_document: role.policy_document.clone(),
        });
    }
    calls.extend(role.iam_groups().iter().map(|g| IamCall::AddUserToGroup {
        group_name: g.clone(),
    }));
    if let Some(tags) = role.iam_tags.as_ref().filter(|t| !t.is_empty()) {
        calls.push(IamCall::TagUser {
            tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    }
    calls.push(IamCall::CreateAccessKey);
    calls
}

/// A step of a plan failed: the reference's prefix and AWS's reason.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct StepError {
    pub step: &'static str,
    #[source]
    pub source: AwsError,
}

/// The new key's id and secret.
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// How often, and how long apart, a call on a just-created user is retried
/// while IAM (eventually consistent) still says the user does not exist.
const CONSISTENCY_ATTEMPTS: u32 = 4;
const CONSISTENCY_BACKOFF: Duration = Duration::from_millis(250);

/// Sends `calls` in order. Returns the key the last call created.
pub async fn execute(
    iam: &aws_sdk_iam::Client,
    user_name: &str,
    calls: &[IamCall],
) -> Result<Option<AccessKey>, StepError> {
    let mut key = None;
    for call in calls {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match send(iam, user_name, call).await {
                Ok(k) => {
                    key = k.or(key);
                    break;
                }
                Err(e)
                    if e.is("NoSuchEntity")
                        && !matches!(call, IamCall::CreateUser { .. })
                        && attempt < CONSISTENCY_ATTEMPTS =>
                {
                    tokio::time::sleep(CONSISTENCY_BACKOFF * 2u32.pow(attempt - 1)).await;
                }
                Err(source) => {
                    return Err(StepError {
                        step: call.failure(),
                        source,
                    });
                }
            }
        }
    }
    Ok(key)
}

async fn send(
    iam: &aws_sdk_iam::Client,
    user_name: &str,
    call: &IamCall,
) -> Result<Option<AccessKey>, AwsError> {
    match call {
        IamCall::CreateUser {
            user_name,
            path,
            permissions_boundary,
        } => {
            iam.create_user()
                .user_name(user_name)
                .path(path)
                .set_permissions_boundary(permissions_boundary.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
        IamCall::AttachUserPolicy { policy_arn } => {
            iam.attach_user_policy()
                .user_name(user_name)
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
        IamCall::PutUserPolicy {
            policy_name,
            policy_document,
        } => {
            iam.put_user_policy()
                .user_name(user_name)
                .policy_name(policy_name)
                .policy_document(policy_document)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
        IamCall::AddUserToGroup { group_name } => {
            iam.add_user_to_group()
                .user_name(user_name)
                .group_name(group_name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
        IamCall::TagUser { tags } => {
            let tags = tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AwsError {
                    code: None,
                    message: e.to_string(),
                })?;
            iam.tag_user()
                .user_name(user_name)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
        IamCall::CreateAccessKey => {
            let out = iam
                .create_access_key()
                .user_name(user_name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
            let key = out.access_key().ok_or_else(|| AwsError {
                code: None,
                message: "CreateAccessKey returned no key".into(),
            })?;
            return Ok(Some(AccessKey {
                id: key.access_key_id().to_string(),
                secret: key.secret_access_key().to_string(),
            }));
        }
    }
    Ok(None)
}

/// Removes user `user_name` and everything attached to it: access keys,
/// managed policy attachments, inline policies, group memberships, then the
/// user. With `accept_missing`, a user that does not exist is success.
pub async fn delete_user(
    iam: &aws_sdk_iam::Client,
    user_name: &str,
    accept_missing: bool,
) -> Result<(), AwsError> {
    let groups = match iam
        .list_groups_for_user()
        .user_name(user_name)
        .max_items(1000)
        .send()
        .await
    {
        Ok(out) => out.groups,
        Err(e) => {
            let err = AwsError::from_sdk(&e);
            if accept_missing && err.is("NoSuchEntity") {
                return Ok(());
            }
            return Err(err);
        }
    };
    let inline = iam
        .list_user_policies()
        .user_name(user_name)
        .max_items(1000)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?
        .policy_names;
    let attached = iam
        .list_attached_user_policies()
        .user_name(user_name)
        .max_items(1000)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?
        .attached_policies
        .unwrap_or_default();
    let keys = iam
        .list_access_keys()
        .user_name(user_name)
        .max_items(1000)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?
        .access_key_metadata;
    for key in keys {
        if let Some(id) = key.access_key_id() {
            iam.delete_access_key()
                .user_name(user_name)
                .access_key_id(id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
    }
    for policy in attached {
        if let Some(arn) = policy.policy_arn() {
            iam.detach_user_policy()
                .user_name(user_name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(&e))?;
        }
    }
    for name in inline {
        iam.delete_user_policy()
            .user_name(user_name)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
    }
    for group in groups {
        iam.remove_user_from_group()
            .user_name(user_name)
            .group_name(group.group_name())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
    }
    iam.delete_user()
        .user_name(user_name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::role::IAM_USER;

    #[test]
    fn the_plan_sends_every_role_setting_in_the_reference_order() {
        let role = Role {
            credential_types: Some(vec![IAM_USER.into()]),
            policy_arns: Some(vec![
                "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                "arn:aws:iam::123456789012:policy/extra".into(),
            ]),
            policy_document: r#"{"Version":"2012-10-17"}"#.into(),
            iam_groups: Some(vec!["devs".into()]),
            iam_tags: Some(BTreeMap::from([
                ("team".into(), "web".into()),
                ("env".into(), "prod".into()),
            ])),
            user_path: "/vault/".into(),
            permissions_boundary_arn: "arn:aws:iam::123456789012:policy/boundary".into(),
            ..Role::default()
        };
        assert_eq!(
            plan(&role, "deploy", "vault-u"),
            vec![
                IamCall::CreateUser {
                    user_name: "vault-u".into(),
                    path: "/vault/".into(),
                    permissions_boundary: Some("arn:aws:iam::123456789012:policy/boundary".into()),
                },
                IamCall::AttachUserPolicy {
                    policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into()
                },
                IamCall::AttachUserPolicy {
                    policy_arn: "arn:aws:iam::123456789012:policy/extra".into()
                },
                IamCall::PutUserPolicy {
                    policy_name: "deploy".into(),
                    policy_document: r#"{"Version":"2012-10-17"}"#.into(),
                },
                IamCall::AddUserToGroup {
                    group_name: "devs".into()
                },
                IamCall::TagUser {
                    tags: vec![("env".into(), "prod".into()), ("team".into(), "web".into())],
                },
                IamCall::CreateAccessKey,
            ]
        );
    }

    #[test]
    fn a_bare_role_makes_a_user_at_the_root_path_and_a_key() {
        let role = Role {
            credential_types: Some(vec![IAM_USER.into()]),
            ..Role::default()
        };
        assert_eq!(
            plan(&role, "r", "u"),
            vec![
                IamCall::CreateUser {
                    user_name: "u".into(),
                    path: "/".into(),
                    permissions_boundary: None,
                },
                IamCall::CreateAccessKey,
            ]
        );
    }
}
