//! `creds/<role>` and `sts/<role>`: issue credentials of the role's type.

use std::time::Duration;

use vault_plugin_sdk::framework::{Field, FieldData, Path, pattern};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::AwsBackend;
use crate::path_roles::get_role;
use crate::role::{ASSUMED_ROLE, FEDERATION_TOKEN, IAM_USER, Role, SESSION_TOKEN};
use crate::secret_access_keys::{aws_failure, create_iam_user, gen_username, sts_response};
use crate::sts::{self, StsCall, combine_policy_documents, policy_param};

const HELP: &str = "This path will generate new, never before used AWS credentials for accessing \
    AWS. The IAM policy used to back this key pair will be the \"name\" parameter. For example, \
    if this backend is mounted at \"aws\", then \"aws/creds/deploy\" would generate access keys \
    for the \"deploy\" role.\n\nThe access keys will have a lease associated with them. The \
    access keys can be revoked by using the lease ID when using the iam_user credential type. \
    When using AWS STS credential types (assumed_role, federation_token or session_token), \
    revoking the lease does not revoke the access keys.";

pub fn paths() -> Vec<Path<AwsBackend>> {
    ["creds", "sts"]
        .into_iter()
        .map(|prefix| {
            Path::new(format!(
                "{prefix}/{}",
                pattern::generic_name_with_at("name")
            ))
            .fields(fields())
            .read(issue)
            .update(issue)
            .help("Generate AWS credentials from a specific Vault role.", HELP)
        })
        .collect()
}

fn fields() -> Vec<Field> {
    vec![
        Field::string("name").description("Name of the role"),
        Field::string("role_arn")
            .description("ARN of role to assume when credential_type is assumed_role"),
        Field::duration("ttl")
            .default(3600)
            .description("Lifetime of the returned credentials in seconds"),
        Field::string("role_session_name")
            .description("Session name to use when assuming role. Max chars: 64"),
        Field::string("mfa_code")
            .description("MFA code to provide for session tokens")
            .sensitive(),
    ]
}

/// Which of the role's credential types this request gets. A role with
/// several types gives `iam_user` on `creds/` and its first STS type on
/// `sts/` (for the reference's upgraded legacy roles, which hold exactly
/// `iam_user` and `federation_token`, that is the reference's choice).
fn credential_type<'a>(role: &'a Role, path: &str) -> Result<&'a str, Error> {
    let types = role.credential_types();
    let on_creds = path.starts_with("creds");
    let chosen = match types {
        [] => return Err(Error::invalid("role has no credential_type")),
        [only] => only.as_str(),
        many => {
            let pick = if on_creds {
                many.iter().find(|t| *t == IAM_USER)
            } else {
                many.iter().find(|t| *t != IAM_USER)
            };
            pick.unwrap_or(&many[0]).as_str()
        }
    };
    if role.prohibit_flexible_cred_path {
        if chosen == IAM_USER && !on_creds {
            return Err(Error::invalid(format!(
                "attempted to retrieve {IAM_USER} credentials through the sts path; this is not allowed for legacy roles"
            )));
        }
        if chosen != IAM_USER && on_creds {
            return Err(Error::invalid(format!(
                "attempted to retrieve {chosen} credentials through the creds path; this is not allowed for legacy roles"
            )));
        }
    }
    Ok(chosen)
}

async fn issue(
    backend: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let role_name: String = data.get("name")?;
    let Some(role) = get_role(req.storage.as_ref(), &role_name).await? else {
        return Err(Error::invalid(format!("Role {role_name:?} not found")));
    };
    let credential_type = credential_type(&role, &req.path)?;
    if credential_type == IAM_USER {
        return create_iam_user(backend, req, &role_name, &role)
            .await
            .map(Some);
    }

    let requested: Option<Duration> = data.get_ok("ttl")?;
    let ttl = match requested {
        Some(ttl) => ttl.as_secs(),
        None if role.default_sts_ttl_secs() > 0 => role.default_sts_ttl_secs().unsigned_abs(),
        None => data.get::<Duration>("ttl")?.as_secs(),
    };
    let ttl = if role.max_sts_ttl_secs() > 0 {
        let max = role.max_sts_ttl_secs().unsigned_abs();
        if requested.is_some() && ttl > max {
            return Err(Error::invalid(format!(
                "field `ttl`: {ttl}s is more than the role's max_sts_ttl of {max}s"
            )));
        }
        ttl.min(max)
    } else {
        let max = backend
            .system
            .max_lease_ttl()
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .as_secs();
        if max > 0 { ttl.min(max) } else { ttl }
    };
    let duration_seconds = i32::try_from(ttl).unwrap_or(i32::MAX);

    let resolved = backend.resolved(req).await?;
    let mut policy = role.policy_document.clone();
    let mut policy_arns = role.policy_arns().to_vec();
    if credential_type != SESSION_TOKEN && !role.iam_groups().is_empty() {
        let (mut documents, arns) = sts::group_policies(&resolved.clients.iam, role.iam_groups())
            .await
            .map_err(|e| Error::invalid(e.to_string()))?;
        if !documents.is_empty() {
            documents.push(policy);
            policy = combine_policy_documents(&documents).map_err(Error::invalid)?;
        }
        policy_arns.extend(arns);
    }

    let (call, username, policy_label) = match credential_type {
        ASSUMED_ROLE => {
            let role_arn: String = data.get("role_arn")?;
            let role_arn = if role_arn.is_empty() {
                match role.role_arns() {
                    [only] => only.clone(),
                    _ => {
                        return Err(Error::invalid(
                            "did not supply a role_arn parameter and unable to determine one",
                        ));
                    }
                }
            } else if role.role_arns().contains(&role_arn) {
                role_arn
            } else {
                return Err(Error::invalid(format!(
                    "role_arn {role_arn:?} not in allowed role arns for Vault role {role_name:?}"
                )));
            };
            let session: String = data.get("role_session_name")?;
            let session = if session.is_empty() {
                gen_username(&resolved, &req.display_name, &role_name, false)?
            } else {
                session
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            };
            let call = StsCall::AssumeRole {
                role_arn: role_arn.clone(),
                role_session_name: session.clone(),
                duration_seconds,
                policy: policy_param(&policy),
                policy_arns,
                tags: role
                    .session_tags
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                external_id: Some(role.external_id.clone()).filter(|e| !e.is_empty()),
            };
            (call, session, role_arn)
        }
        FEDERATION_TOKEN => {
            // Without any policy, a federation token would carry all of the
            // engine's own permissions.
            if policy.is_empty() && policy_arns.is_empty() {
                return Err(Error::invalid(format!(
                    "must specify at least one of policy_arns or policy_document with {FEDERATION_TOKEN} credential_type"
                )));
            }
            let name = gen_username(&resolved, &req.display_name, &role_name, true)?;
            let call = StsCall::GetFederationToken {
                name: name.clone(),
                duration_seconds,
                policy: policy_param(&policy),
                policy_arns,
            };
            (call, name, policy)
        }
        SESSION_TOKEN => {
            let code: String = data.get("mfa_code")?;
            let call = StsCall::GetSessionToken {
                duration_seconds,
                serial_number: Some(role.mfa_serial_number.clone()).filter(|s| !s.is_empty()),
                token_code: Some(code).filter(|c| !c.is_empty()),
            };
            (call, String::new(), String::new())
        }
        other => {
            return Err(Error::invalid(format!(
                "unknown credential_type: {other:?}"
            )));
        }
    };
    let creds = sts::execute(&resolved.clients.sts, &call)
        .await
        .map_err(|e| aws_failure(call.failure(), &e))?;
    Ok(Some(sts_response(creds, &username, &policy_label)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(types: &[&str], legacy: bool) -> Role {
        Role {
            credential_types: Some(types.iter().map(|t| t.to_string()).collect()),
            prohibit_flexible_cred_path: legacy,
            ..Role::default()
        }
    }

    #[test]
    fn the_path_picks_among_several_types() {
        let both = role(&[IAM_USER, FEDERATION_TOKEN], true);
        assert_eq!(credential_type(&both, "creds/r").ok(), Some(IAM_USER));
        assert_eq!(credential_type(&both, "sts/r").ok(), Some(FEDERATION_TOKEN));
        let sts_only = role(&[ASSUMED_ROLE], true);
        assert!(credential_type(&sts_only, "creds/r").is_err());
        let flexible = role(&[ASSUMED_ROLE], false);
        assert_eq!(
            credential_type(&flexible, "creds/r").ok(),
            Some(ASSUMED_ROLE)
        );
    }
}
