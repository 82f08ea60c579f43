//! Any text as a username template (parts separated by NUL: the template,
//! then DisplayName, PolicyName and RoleName), parsed and rendered with the
//! fields an IAM user or an STS credential gets. Asserts: parsing and
//! rendering answer, never panic or hang; a template without random or
//! time functions renders the same twice; a pipeline ending in `truncate n`
//! is at most n bytes and in `truncate_sha256 n` at most n; the default
//! template stays within the IAM (64) and STS (32) limits whatever the
//! names.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use vault_plugin_secrets_aws::path_config_root::DEFAULT_USERNAME_TEMPLATE;
use vault_plugin_secrets_aws::username_template::Template;

/// What `secret_access_keys::gen_username` passes, with the names as given
/// (it normalises them first; any text is a superset).
fn fields<'a>(sts: bool, display: &str, policy: &str, role: &str) -> HashMap<&'a str, String> {
    let (kind, display, policy, role) = if sts {
        ("STS", "", "", "")
    } else {
        ("IAM", display, policy, role)
    };
    HashMap::from([
        ("Type", kind.to_string()),
        ("DisplayName", display.to_string()),
        ("PolicyName", policy.to_string()),
        ("RoleName", role.to_string()),
    ])
}

fn deterministic(text: &str) -> bool {
    !["random", "uuid", "unix_time"]
        .iter()
        .any(|f| text.contains(f))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let template = parts.next().unwrap_or_default();
    let display = parts.next().unwrap_or_default();
    let policy = parts.next().unwrap_or_default();
    let role = parts.next().unwrap_or_default();

    for sts in [false, true] {
        let fields = fields(sts, display, policy, role);
        if let Ok(parsed) = Template::parse(template) {
            let first = parsed.render(&fields);
            if deterministic(template) {
                assert_eq!(parsed.render(&fields), first, "{template:?}");
            }
        }

        // The template as one action's pipeline, with a bound at its end.
        if !template.contains("{{") && !template.contains("}}") {
            let bound = usize::from(data.len() as u8);
            for (func, min) in [("truncate", 1), ("truncate_sha256", 9)] {
                let n = bound.max(min);
                let wrapped = format!("{{{{ ({template}) | {func} {n} }}}}");
                if let Ok(rendered) = Template::parse(&wrapped).and_then(|t| t.render(&fields)) {
                    assert!(rendered.len() <= n, "{wrapped:?} gave {rendered:?}");
                }
            }
        }

        let name = Template::parse(DEFAULT_USERNAME_TEMPLATE)
            .expect("the default template parses")
            .render(&fields)
            .expect("the default template renders");
        assert!(name.len() <= if sts { 32 } else { 64 }, "{name:?}");
    }
});
