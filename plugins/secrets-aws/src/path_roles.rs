//! `roles/<name>` and `roles/`: which credentials a name issues and with
//! what policies, validated as the reference validates them.

use std::collections::BTreeMap;
use std::time::Duration;

use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path, pattern};
use vault_plugin_sdk::logical::{Error, Request, Response};
use vault_plugin_sdk::storage::Storage;

use crate::backend::AwsBackend;
use crate::role::{
    LEGACY_PREFIX, ROLE_PREFIX, Role, compact_json, go_quote, multierror, upgrade_legacy,
};

/// IAM's largest policy of any kind (a role's inline policies), counted
/// without whitespace: a longer document could never be sent to AWS.
pub const MAX_POLICY_CHARS: usize = 10_240;

/// How much of an unparsable document an error quotes back: the reference
/// echoes all of it, a 10 MB answer to a 10 MB mistake.
const QUOTED_CHARS: usize = 256;

fn shortened(doc: &str) -> &str {
    match doc.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => &doc[..end],
        None => doc,
    }
}

pub fn paths() -> Vec<Path<AwsBackend>> {
    vec![
        Path::new("roles/?$").list(list_roles).help(
            "List the existing roles in this backend",
            "Roles will be listed by the role name.",
        ),
        Path::new(format!("roles/{}", pattern::generic_name_with_at("name")))
            .fields(fields())
            .read(read_role)
            .update(write_role)
            .delete(delete_role)
            .help(
                "Read, write and reference IAM policies that access keys can be made for.",
                "This path allows you to read and write roles that are used to create access \
                 keys. These roles are associated with IAM policies that map directly to the \
                 route to read the access keys. For example, if the backend is mounted at \
                 \"aws\" and you create a role at \"aws/roles/deploy\" then a user could \
                 request access credentials at \"aws/creds/deploy\".",
            ),
    ]
}

fn fields() -> Vec<Field> {
    vec![
        Field::string("name").description("Name of the role"),
        Field::string("credential_type").description(
            "Type of credential to retrieve. Must be one of assumed_role, iam_user, \
             federation_token, or session_token",
        ),
        Field::comma_string_slice("role_arns").description(
            "ARNs of AWS roles allowed to be assumed. Only valid when credential_type is \
             assumed_role",
        ),
        Field::comma_string_slice("policy_arns").description(
            "ARNs of AWS policies. When credential_type is iam_user, they are attached to the \
             generated IAM user. When credential_type is assumed_role or federation_token, \
             they are passed as the PolicyArns parameter, acting as a filter on permissions \
             available.",
        ),
        Field::string("policy_document").description(
            "JSON-encoded IAM policy document. For iam_user it becomes the user's inline \
             policy; for assumed_role and federation_token it is passed as the Policy \
             parameter, acting as a filter on permissions available.",
        ),
        Field::comma_string_slice("iam_groups").description(
            "Names of IAM groups that generated IAM users will be added to. For assumed_role \
             and federation_token, the groups' policies are combined with policy_document and \
             policy_arns.",
        ),
        Field::kv_pairs("iam_tags")
            .description("IAM tags to be set for any users created by this role."),
        Field::kv_pairs("session_tags")
            .description("Session tags to be set for assumed_role creds created by this role."),
        Field::string("external_id").description(
            "External ID to set when assuming the role; only valid when credential_type is \
             assumed_role",
        ),
        Field::duration("default_sts_ttl").description(
            "Default TTL for assumed_role, federation_token, and session_token credential \
             types when no TTL is explicitly requested with the credentials",
        ),
        Field::duration("max_sts_ttl").description(
            "Max allowed TTL for assumed_role, federation_token, and session_token credential \
             types",
        ),
        Field::string("permissions_boundary_arn").description(
            "ARN of an IAM policy to attach as a permissions boundary on IAM user credentials; \
             only valid when credential_type is iam_user",
        ),
        Field::string("arn")
            .description("Use role_arns or policy_arns instead.")
            .deprecated(),
        Field::string("policy")
            .description("Use policy_document instead.")
            .deprecated(),
        Field::string("user_path")
            .default("/")
            .description("Path for IAM User. Only valid when credential_type is iam_user"),
        Field::string("mfa_serial_number").description(
            "Identification number or ARN of the MFA device associated with the root config \
             user. Only valid when credential_type is session_token.",
        ),
    ]
}

/// The role `name`, upgrading a legacy `policy/<name>` entry in storage on
/// the way (as the reference does).
pub async fn get_role(storage: &dyn Storage, name: &str) -> Result<Option<Role>, Error> {
    if name.is_empty() {
        return Err(Error::invalid("missing role name"));
    }
    if let Some(role) = storage
        .get_json::<Role>(&format!("{ROLE_PREFIX}{name}"))
        .await?
    {
        return Ok(Some(role));
    }
    let Some(legacy) = storage.get(&format!("{LEGACY_PREFIX}{name}")).await? else {
        return Ok(None);
    };
    let role = upgrade_legacy(&String::from_utf8_lossy(&legacy.value));
    storage
        .put_json(&format!("{ROLE_PREFIX}{name}"), &role)
        .await?;
    storage.delete(&format!("{LEGACY_PREFIX}{name}")).await?;
    Ok(Some(role))
}

async fn list_roles(
    _: &AwsBackend,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let mut keys = req.storage.list(ROLE_PREFIX).await?;
    keys.extend(req.storage.list(LEGACY_PREFIX).await?);
    Ok(Some(Response::with_data(
        serde_json::json!({ "keys": keys }),
    )))
}

async fn read_role(
    _: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    Ok(get_role(req.storage.as_ref(), &name)
        .await?
        .map(|role| Response::with_data(role.to_response())))
}

async fn delete_role(
    _: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    for prefix in [LEGACY_PREFIX, ROLE_PREFIX] {
        req.storage.delete(&format!("{prefix}{name}")).await?;
    }
    Ok(None)
}

fn legacy_data(data: &FieldData) -> Result<String, Error> {
    let policy: String = data.get("policy")?;
    let arn: String = data.get("arn")?;
    match (policy.is_empty(), arn.is_empty()) {
        (true, true) => Ok(String::new()),
        (false, false) => Err(Error::invalid(
            "only one of policy or arn should be provided",
        )),
        (false, true) => Ok(policy),
        (true, false) => Ok(arn),
    }
}

async fn write_role(
    backend: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    if name.is_empty() {
        return Err(Error::invalid("missing role name"));
    }
    let _guard = backend.config_lock.read().await;
    let mut warnings = Vec::new();
    let mut role = get_role(req.storage.as_ref(), &name)
        .await?
        .unwrap_or_default();
    if !role.invalid_data.is_empty() {
        warnings.push(format!(
            "Invalid data of {} cleared out of role",
            go_quote(&role.invalid_data)
        ));
        role.invalid_data.clear();
    }
    let legacy = legacy_data(data)?;
    let refuse_with_legacy = |field: &str| -> Result<(), Error> {
        if legacy.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "cannot supply deprecated role or policy parameters with {field}"
            )))
        }
    };

    if let Some(t) = data.get_ok::<String>("credential_type")? {
        if !legacy.is_empty() {
            return Err(Error::invalid(
                "cannot supply deprecated role or policy parameters with an explicit credential_type",
            ));
        }
        // Several types in one role come only from upgraded legacy
        // entries; a write names one, which may be a comma-separated list
        // the validation below then checks item by item.
        role.credential_types = Some(t.split(',').map(|s| s.trim().to_string()).collect());
    }
    if let Some(v) = data.get_ok::<Vec<String>>("role_arns")? {
        refuse_with_legacy("role_arns")?;
        role.role_arns = Some(v);
    }
    if let Some(v) = data.get_ok::<Vec<String>>("policy_arns")? {
        refuse_with_legacy("policy_arns")?;
        role.policy_arns = Some(v);
    }
    if let Some(doc) = data.get_ok::<String>("policy_document")? {
        refuse_with_legacy("policy_document")?;
        role.policy_document = if doc.is_empty() {
            doc
        } else {
            let compacted = compact_json(&doc).map_err(|_| {
                Error::invalid(format!(
                    "cannot parse policy document: {}",
                    go_quote(shortened(&doc))
                ))
            })?;
            let chars = compacted.chars().count();
            if chars > MAX_POLICY_CHARS {
                return Err(Error::invalid(format!(
                    "policy_document has {chars} characters without whitespace; IAM takes at \
                     most {MAX_POLICY_CHARS} in any policy"
                )));
            }
            // Policies nest a few levels; serde_json's limit (128) refuses
            // the hostile ones the compaction's scan let through.
            if serde_json::from_str::<serde_json::Value>(&compacted).is_err() {
                return Err(Error::invalid(format!(
                    "cannot parse policy document: {}",
                    go_quote(shortened(&doc))
                )));
            }
            compacted
        };
    }
    if let Some(ttl) = data.get_ok::<Duration>("default_sts_ttl")? {
        refuse_with_legacy("default_sts_ttl")?;
        role.default_sts_ttl = nanos(ttl);
    }
    if let Some(ttl) = data.get_ok::<Duration>("max_sts_ttl")? {
        refuse_with_legacy("max_sts_ttl")?;
        role.max_sts_ttl = nanos(ttl);
    }
    if let Some(v) = data.get_ok::<String>("user_path")? {
        refuse_with_legacy("user_path")?;
        role.user_path = v;
    }
    if let Some(v) = data.get_ok::<String>("permissions_boundary_arn")? {
        refuse_with_legacy("permissions_boundary_arn")?;
        role.permissions_boundary_arn = v;
    }
    if let Some(v) = data.get_ok::<Vec<String>>("iam_groups")? {
        role.iam_groups = Some(v);
    }
    if let Some(v) = data.get_ok::<BTreeMap<String, String>>("iam_tags")? {
        role.iam_tags = Some(v);
    }
    if let Some(v) = data.get_ok::<String>("mfa_serial_number")? {
        role.mfa_serial_number = v;
    }
    if let Some(v) = data.get_ok::<BTreeMap<String, String>>("session_tags")? {
        role.session_tags = Some(v);
    }
    if let Some(v) = data.get_ok::<String>("external_id")? {
        role.external_id = v;
    }

    if legacy.is_empty() {
        role.prohibit_flexible_cred_path = false;
    } else {
        role = upgrade_legacy(&legacy);
        if !role.invalid_data.is_empty() {
            return Err(Error::invalid(format!(
                "unable to parse supplied data: {}",
                go_quote(&role.invalid_data)
            )));
        }
        warnings.push(
            "Detected use of legacy role or policy parameter. Please upgrade to use the new \
             parameters."
                .to_string(),
        );
    }

    if let Err(errors) = role.validate() {
        return Err(Error::invalid(format!(
            "error(s) validating supplied role data: {}",
            go_quote(&multierror(&errors))
        )));
    }
    req.storage
        .put_json(&format!("{ROLE_PREFIX}{name}"), &role)
        .await?;
    if warnings.is_empty() {
        return Ok(None);
    }
    Ok(Some(Response {
        warnings,
        ..Response::default()
    }))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
