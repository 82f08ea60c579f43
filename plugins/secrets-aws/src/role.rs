//! A role (`role/<name>`), stored as the reference's `awsRoleEntry` JSON
//! (nil lists and maps as `null`, durations in nanoseconds) so that roles a
//! Go engine wrote load unchanged, and legacy `policy/<name>` entries are
//! upgraded as the reference upgrades them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

pub const ROLE_PREFIX: &str = "role/";
pub const LEGACY_PREFIX: &str = "policy/";

pub const ASSUMED_ROLE: &str = "assumed_role";
pub const IAM_USER: &str = "iam_user";
pub const FEDERATION_TOKEN: &str = "federation_token";
pub const SESSION_TOKEN: &str = "session_token";

const STS_TYPES: [&str; 3] = [ASSUMED_ROLE, FEDERATION_TOKEN, SESSION_TOKEN];

/// Go serialises nil slices and maps as `null`; read them as empty.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Role {
    pub credential_types: Option<Vec<String>>,
    pub policy_arns: Option<Vec<String>>,
    pub role_arns: Option<Vec<String>>,
    pub policy_document: String,
    pub iam_groups: Option<Vec<String>>,
    pub iam_tags: Option<BTreeMap<String, String>>,
    pub session_tags: Option<BTreeMap<String, String>>,
    pub external_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub invalid_data: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prohibit_flexible_cred_path: bool,
    pub version: i64,
    /// Nanoseconds.
    pub default_sts_ttl: i64,
    /// Nanoseconds.
    pub max_sts_ttl: i64,
    pub user_path: String,
    pub permissions_boundary_arn: String,
    pub mfa_serial_number: String,
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

impl Role {
    pub fn credential_types(&self) -> &[String] {
        list(&self.credential_types)
    }
    pub fn policy_arns(&self) -> &[String] {
        list(&self.policy_arns)
    }
    pub fn role_arns(&self) -> &[String] {
        list(&self.role_arns)
    }
    pub fn iam_groups(&self) -> &[String] {
        list(&self.iam_groups)
    }

    fn has_type(&self, t: &str) -> bool {
        self.credential_types().iter().any(|c| c == t)
    }

    pub fn default_sts_ttl_secs(&self) -> i64 {
        self.default_sts_ttl / 1_000_000_000
    }

    pub fn max_sts_ttl_secs(&self) -> i64 {
        self.max_sts_ttl / 1_000_000_000
    }

    /// The read response, with the reference's field names and shapes.
    pub fn to_response(&self) -> Value {
        let mut data = json!({
            "credential_type": self.credential_types().join(","),
            "policy_arns": self.policy_arns,
            "role_arns": self.role_arns,
            "policy_document": self.policy_document,
            "iam_groups": self.iam_groups,
            "iam_tags": self.iam_tags,
            "session_tags": self.session_tags,
            "external_id": self.external_id,
            "default_sts_ttl": self.default_sts_ttl_secs(),
            "max_sts_ttl": self.max_sts_ttl_secs(),
            "user_path": self.user_path,
            "permissions_boundary_arn": self.permissions_boundary_arn,
            "mfa_serial_number": self.mfa_serial_number,
        });
        if !self.invalid_data.is_empty()
            && let Some(map) = data.as_object_mut()
        {
            map.insert("invalid_data".into(), self.invalid_data.clone().into());
        }
        data
    }

    /// The reference's checks of which fields fit which credential types,
    /// every failure listed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let types = self.credential_types();
        if types.is_empty() {
            errors.push("did not supply credential_type".to_string());
        }
        for t in types {
            if ![IAM_USER, ASSUMED_ROLE, FEDERATION_TOKEN, SESSION_TOKEN].contains(&t.as_str()) {
                errors.push(format!("unrecognized credential type: {t}"));
            }
        }
        let any_sts = STS_TYPES.iter().any(|t| self.has_type(t));
        if self.default_sts_ttl != 0 && !any_sts {
            errors.push(format!(
                "default_sts_ttl parameter only valid for {ASSUMED_ROLE}, {FEDERATION_TOKEN}, and {SESSION_TOKEN} credential types"
            ));
        }
        if self.max_sts_ttl != 0 && !any_sts {
            errors.push(format!(
                "max_sts_ttl parameter only valid for {ASSUMED_ROLE}, {FEDERATION_TOKEN}, and {SESSION_TOKEN} credential types"
            ));
        }
        if self.max_sts_ttl > 0
            && self.default_sts_ttl > 0
            && self.default_sts_ttl > self.max_sts_ttl
        {
            errors.push(
                r#""default_sts_ttl" value must be less than or equal to "max_sts_ttl" value"#
                    .to_string(),
            );
        }
        if !self.user_path.is_empty() {
            if !self.has_type(IAM_USER) {
                errors.push(format!(
                    "user_path parameter only valid for {IAM_USER} credential type"
                ));
            }
            if !user_path_is_valid(&self.user_path) {
                errors.push(format!(
                    "the specified value for user_path is invalid. It must match {:?} regexp",
                    USER_PATH_PATTERN
                ));
            }
        }
        if !self.permissions_boundary_arn.is_empty() {
            if !self.has_type(IAM_USER) {
                errors.push(format!(
                    "cannot supply permissions_boundary_arn when credential_type isn't {IAM_USER}"
                ));
            }
            if let Err(e) = validate_managed_policy_arn(&self.permissions_boundary_arn) {
                errors.push(format!("invalid permissions_boundary_arn parameter: {e}"));
            }
        }
        if (!self.policy_document.is_empty() || !self.policy_arns().is_empty())
            && self.has_type(SESSION_TOKEN)
        {
            errors.push(format!(
                "cannot supply a policy or role when using credential_type {SESSION_TOKEN}"
            ));
        }
        if !self.role_arns().is_empty() && !self.has_type(ASSUMED_ROLE) {
            errors.push(format!(
                "cannot supply role_arns when credential_type isn't {ASSUMED_ROLE}"
            ));
        }
        if self.session_tags.as_ref().is_some_and(|t| !t.is_empty()) && !self.has_type(ASSUMED_ROLE)
        {
            errors.push(format!(
                "cannot supply session_tags when credential_type isn't {ASSUMED_ROLE}"
            ));
        }
        if !self.external_id.is_empty() && !self.has_type(ASSUMED_ROLE) {
            errors.push(format!(
                "cannot supply external_id when credential_type isn't {ASSUMED_ROLE}"
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

const USER_PATH_PATTERN: &str = r"^\/([\x21-\x7F]{0,510}\/)?$";

static USER_PATH: LazyLock<Option<regex_lite::Regex>> =
    LazyLock::new(|| regex_lite::Regex::new(USER_PATH_PATTERN).ok());

fn user_path_is_valid(path: &str) -> bool {
    USER_PATH.as_ref().is_some_and(|re| re.is_match(path))
}

/// go-multierror's text, as the reference quotes it in its 400.
pub fn multierror(errors: &[String]) -> String {
    if errors.len() == 1 {
        return format!("1 error occurred:\n\t* {}\n\n", errors[0]);
    }
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!(
        "{} errors occurred:\n\t{}\n\n",
        errors.len(),
        points.join("\n\t")
    )
}

/// Go's `%q` of a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An ARN's parts, as aws-sdk-go's `arn.Parse` splits them.
pub struct Arn<'a> {
    pub service: &'a str,
    pub resource: &'a str,
}

pub fn parse_arn(arn: &str) -> Result<Arn<'_>, String> {
    if !arn.starts_with("arn:") {
        return Err("arn: invalid prefix".into());
    }
    let sections: Vec<&str> = arn.splitn(6, ':').collect();
    if sections.len() != 6 {
        return Err("arn: not enough sections".into());
    }
    Ok(Arn {
        service: sections[2],
        resource: sections[5],
    })
}

fn validate_managed_policy_arn(arn: &str) -> Result<(), String> {
    let parsed = parse_arn(arn)?;
    if parsed.service != "iam" {
        return Err(format!(
            "expected a service of iam but got {}",
            parsed.service
        ));
    }
    if !parsed.resource.starts_with("policy/") {
        return Err(format!(
            "expected a resource type of policy but got {}",
            parsed.resource
        ));
    }
    Ok(())
}

/// Go's `json.Compact`: the same document without insignificant
/// whitespace, keys and numbers exactly as written.
pub fn compact_json(input: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<serde::de::IgnoredAny>(input)?;
    let mut out = String::with_capacity(input.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in input.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Ok(out)
}

/// The reference's upgrade of a legacy `policy/<name>` value (or of the
/// deprecated `arn`/`policy` fields): a role ARN, a policy ARN, or an inline
/// policy document.
pub fn upgrade_legacy(entry: &str) -> Role {
    let invalid = || Role {
        invalid_data: entry.to_string(),
        version: 1,
        ..Role::default()
    };
    let legacy = |types: &[&str]| Role {
        credential_types: Some(types.iter().map(|t| t.to_string()).collect()),
        prohibit_flexible_cred_path: true,
        version: 1,
        ..Role::default()
    };
    if entry.starts_with("arn:") {
        let Ok(parsed) = parse_arn(entry) else {
            return invalid();
        };
        match parsed.resource.split('/').next() {
            Some("role") => Role {
                role_arns: Some(vec![entry.to_string()]),
                ..legacy(&[ASSUMED_ROLE])
            },
            Some("policy") => Role {
                policy_arns: Some(vec![entry.to_string()]),
                ..legacy(&[IAM_USER])
            },
            _ => invalid(),
        }
    } else {
        match compact_json(entry) {
            Ok(compacted) => Role {
                policy_document: compacted,
                ..legacy(&[IAM_USER, FEDERATION_TOKEN])
            },
            Err(_) => invalid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(types: &[&str]) -> Role {
        Role {
            credential_types: Some(types.iter().map(|t| t.to_string()).collect()),
            ..Role::default()
        }
    }

    #[test]
    fn a_role_the_go_engine_stored_loads_and_round_trips() {
        let stored = r#"{"credential_types":["assumed_role"],"policy_arns":null,"role_arns":["arn:aws:iam::123456789012:role/dev"],"policy_document":"","iam_groups":null,"iam_tags":null,"session_tags":{"team":"a"},"external_id":"x","version":0,"default_sts_ttl":900000000000,"max_sts_ttl":3600000000000,"user_path":"","permissions_boundary_arn":"","mfa_serial_number":""}"#;
        let role: Role = serde_json::from_str(stored).expect("loads");
        assert_eq!(role.default_sts_ttl_secs(), 900);
        assert_eq!(role.max_sts_ttl_secs(), 3600);
        let again = serde_json::to_string(&role).expect("serialises");
        assert_eq!(again, stored);
    }

    #[test]
    fn validation_matches_the_reference() {
        let cases: Vec<(Role, Vec<&str>)> = vec![
            (role(&[]), vec!["did not supply credential_type"]),
            (
                role(&["bogus"]),
                vec!["unrecognized credential type: bogus"],
            ),
            (
                Role {
                    default_sts_ttl: 1,
                    ..role(&[IAM_USER])
                },
                vec![
                    "default_sts_ttl parameter only valid for assumed_role, federation_token, and session_token credential types",
                ],
            ),
            (
                Role {
                    default_sts_ttl: 20,
                    max_sts_ttl: 10,
                    ..role(&[ASSUMED_ROLE])
                },
                vec![
                    r#""default_sts_ttl" value must be less than or equal to "max_sts_ttl" value"#,
                ],
            ),
            (
                Role {
                    user_path: "no-slash".into(),
                    ..role(&[IAM_USER])
                },
                vec![
                    r#"the specified value for user_path is invalid. It must match "^\\/([\\x21-\\x7F]{0,510}\\/)?$" regexp"#,
                ],
            ),
            (
                Role {
                    user_path: "/ok/".into(),
                    ..role(&[ASSUMED_ROLE])
                },
                vec!["user_path parameter only valid for iam_user credential type"],
            ),
            (
                Role {
                    permissions_boundary_arn: "arn:aws:s3:::bucket".into(),
                    ..role(&[IAM_USER])
                },
                vec![
                    "invalid permissions_boundary_arn parameter: expected a service of iam but got s3",
                ],
            ),
            (
                Role {
                    policy_document: "{}".into(),
                    ..role(&[SESSION_TOKEN])
                },
                vec!["cannot supply a policy or role when using credential_type session_token"],
            ),
            (
                Role {
                    role_arns: Some(vec!["arn:aws:iam::1:role/x".into()]),
                    ..role(&[IAM_USER])
                },
                vec!["cannot supply role_arns when credential_type isn't assumed_role"],
            ),
            (
                Role {
                    session_tags: Some(BTreeMap::from([("a".into(), "b".into())])),
                    external_id: "e".into(),
                    ..role(&[FEDERATION_TOKEN])
                },
                vec![
                    "cannot supply session_tags when credential_type isn't assumed_role",
                    "cannot supply external_id when credential_type isn't assumed_role",
                ],
            ),
        ];
        for (role, want) in cases {
            let got = role.validate().err().unwrap_or_default();
            assert_eq!(got, want, "{role:?}");
        }
        assert_eq!(
            Role {
                user_path: "/team/dev/".into(),
                permissions_boundary_arn: "arn:aws:iam::123456789012:policy/boundary".into(),
                ..role(&[IAM_USER])
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn errors_are_quoted_as_go_quotes_a_multierror() {
        let text = go_quote(&multierror(&["unrecognized credential type: x".into()]));
        assert_eq!(
            text,
            r#""1 error occurred:\n\t* unrecognized credential type: x\n\n""#
        );
        let two = multierror(&["a".into(), "b".into()]);
        assert_eq!(two, "2 errors occurred:\n\t* a\n\t* b\n\n");
    }

    #[test]
    fn policy_documents_are_compacted_not_reordered() {
        let doc = "{ \"Version\": \"2012-10-17\",\n  \"Statement\": [ {\"Effect\": \"Allow\", \"Action\": \"s3:Get Object\", \"N\": 1.50 } ] }";
        assert_eq!(
            compact_json(doc).expect("valid"),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get Object","N":1.50}]}"#
        );
        assert!(compact_json("{\"Version\": ").is_err());
        assert!(compact_json("not json").is_err());
    }

    #[test]
    fn legacy_entries_upgrade_as_the_reference_does() {
        let r = upgrade_legacy("arn:aws:iam::123456789012:role/legacy");
        assert_eq!(r.credential_types(), [ASSUMED_ROLE]);
        assert_eq!(r.role_arns(), ["arn:aws:iam::123456789012:role/legacy"]);
        assert!(r.prohibit_flexible_cred_path);
        let p = upgrade_legacy("arn:aws:iam::aws:policy/ReadOnlyAccess");
        assert_eq!(p.credential_types(), [IAM_USER]);
        assert_eq!(p.policy_arns(), ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
        let d = upgrade_legacy("{ \"Version\": \"2012-10-17\" }");
        assert_eq!(d.credential_types(), [IAM_USER, FEDERATION_TOKEN]);
        assert_eq!(d.policy_document, r#"{"Version":"2012-10-17"}"#);
        assert_eq!(
            upgrade_legacy("arn:aws:iam::1:user/x").invalid_data,
            "arn:aws:iam::1:user/x"
        );
        assert_eq!(upgrade_legacy("garbage").invalid_data, "garbage");
    }
}
