//! `cargo xtask new-plugin NAME --kind auth|secrets`: a new plugin crate that
//! builds, ships and passes its tests before anyone edits it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::args::Args;
use crate::plugins;

const HELP: &str = "\
cargo xtask new-plugin NAME --kind auth|secrets [--description TEXT]

Scaffolds plugins/NAME, a plugin crate on the SDK:
  Cargo.toml         package vault-plugin-NAME, shipped by `dist` and `dev`
                     ([package.metadata.vault-plugin])
  src/main.rs        a few lines: hand the backend to the SDK's serve
  src/lib.rs         the backend and its paths
  src/path_*.rs      one path file with a typed example: items (secrets) or
                     roles with a login (auth)
  tests/openbao.rs   its integration test through a real OpenBao
  README.md          a stub to fill in
and adds it to the workspace's members and to plugins/README.md.

NAME is lower-case letters, digits and dashes; by convention `auth-…` or
`secrets-…`. Without that prefix the short name (`--plugins` of dist and
dev, the mount path) is NAME itself. CONTRIBUTING.md walks through the rest.";

const CARGO_TOML: &str = include_str!("../templates/common/Cargo.toml.tmpl");
const MAIN_RS: &str = include_str!("../templates/common/main.rs.tmpl");
const README_MD: &str = include_str!("../templates/common/README.md.tmpl");
const SECRETS_LIB: &str = include_str!("../templates/secrets/lib.rs.tmpl");
const SECRETS_PATH: &str = include_str!("../templates/secrets/path.rs.tmpl");
const SECRETS_TEST: &str = include_str!("../templates/secrets/test.rs.tmpl");
const AUTH_LIB: &str = include_str!("../templates/auth/lib.rs.tmpl");
const AUTH_PATH: &str = include_str!("../templates/auth/path.rs.tmpl");
const AUTH_TEST: &str = include_str!("../templates/auth/test.rs.tmpl");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auth,
    Secrets,
}

struct Options {
    name: String,
    kind: Kind,
    description: Option<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Option<Options>> {
    let mut name = None;
    let mut kind = None;
    let mut description = None;
    let mut args = Args::new(args);
    while let Some((flag, inline)) = args.next_arg() {
        match flag {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(None);
            }
            "--kind" => {
                kind = Some(match args.value(flag, inline)?.as_str() {
                    "auth" => Kind::Auth,
                    "secrets" | "secret" => Kind::Secrets,
                    other => bail!("--kind must be auth or secrets, not {other:?}"),
                });
            }
            "--description" => description = Some(args.value(flag, inline)?),
            other if other.starts_with('-') => bail!("unknown argument {other:?}\n\n{HELP}"),
            other if name.is_none() => name = Some(other.to_string()),
            other => bail!("one NAME only; {other:?} is a second\n\n{HELP}"),
        }
    }
    let Some(name) = name else {
        bail!("NAME is missing\n\n{HELP}");
    };
    let Some(kind) = kind else {
        bail!("--kind auth|secrets is missing\n\n{HELP}");
    };
    Ok(Some(Options {
        name,
        kind,
        description,
    }))
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let Some(options) = parse(args)? else {
        return Ok(());
    };
    let name = &options.name;
    if !valid_name(name) {
        bail!(
            "NAME {name:?}: use lower-case letters, digits and single dashes, starting with a letter"
        );
    }
    let short = name
        .strip_prefix("auth-")
        .or_else(|| name.strip_prefix("secrets-"))
        .unwrap_or(name);
    let root = plugins::workspace_root();
    let dir = root.join("plugins").join(name);
    if dir.exists() {
        bail!("{} exists already", dir.display());
    }
    let package = format!("vault-plugin-{name}");
    let catalog = format!("{short}-rs");
    for other in plugins::shipped_in(&root)? {
        if other.short == short || other.catalog_name == catalog || other.package == package {
            bail!(
                "{} already ships as {:?} ({}): choose another NAME",
                other.package,
                other.short,
                other.catalog_name
            );
        }
    }

    if let Some(d) = &options.description
        && (d.is_empty() || d.contains(['"', '\\', '\n', '{', '}']))
    {
        bail!("--description: one line of text without quotes, backslashes or braces");
    }
    let kind = options.kind;
    let description = options.description.unwrap_or_else(|| match kind {
        Kind::Auth => format!("An auth method for Vault and OpenBao: {short}."),
        Kind::Secrets => format!("A secrets engine for Vault and OpenBao: {short}."),
    });
    let (catalog_type, mount, paths_doc, enable) = match kind {
        Kind::Auth => (
            "auth",
            format!("auth/{short}/"),
            "- `roles/<name>`: create, read, update, delete (`secret`, never read back, and \
             the `token_*` settings)\n- `roles/`: list\n- `login`: `role` and `secret` give a \
             token with the role's settings"
                .to_string(),
            format!("vault auth enable -path={short} -plugin-version=v0.1.0 {catalog}"),
        ),
        Kind::Secrets => (
            "secret",
            format!("{short}/"),
            "- `items/<name>`: create, read, update, delete (`value`, `ttl`)\n- `items/`: list"
                .to_string(),
            format!("vault secrets enable -path={short} -plugin-version=v0.1.0 {catalog}"),
        ),
    };
    let vars: [(&str, &str); 9] = [
        ("package", &package),
        ("crate_name", &package.replace('-', "_")),
        ("short", short),
        ("catalog", &catalog),
        ("catalog_type", catalog_type),
        ("description", &description),
        ("mount", &mount),
        ("paths_doc", &paths_doc),
        ("enable_command", &enable),
    ];
    let (lib, path_file, path_template, test) = match kind {
        Kind::Auth => (AUTH_LIB, "path_roles.rs", AUTH_PATH, AUTH_TEST),
        Kind::Secrets => (SECRETS_LIB, "path_items.rs", SECRETS_PATH, SECRETS_TEST),
    };
    let files = [
        ("Cargo.toml", CARGO_TOML),
        ("README.md", README_MD),
        ("src/main.rs", MAIN_RS),
        ("src/lib.rs", lib),
        (&format!("src/{path_file}"), path_template),
        ("tests/openbao.rs", test),
    ];
    for (file, template) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, render(template, &vars)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    add_member(&root, &format!("plugins/{name}"))?;
    add_to_plugin_list(&root, name, &package, &description)?;

    // rustfmt lays the code out for the names just filled in.
    let formatted = Command::new(plugins::cargo())
        .current_dir(&root)
        .args(["fmt", "-p", &package])
        .status()
        .is_ok_and(|s| s.success());
    if !formatted {
        eprintln!("xtask: `cargo fmt -p {package}` failed; run it before committing");
    }

    println!("xtask: created plugins/{name} ({package}), a member of the workspace,");
    println!(
        "       shipped as {catalog_type} plugin {catalog:?} (`--plugins {short}` in dist and dev)"
    );
    println!("Next:");
    println!("  cargo test -p {package}   # its tests, through a real OpenBao");
    println!("  cargo xtask dev --plugins {short}   # try it by hand");
    println!("  CONTRIBUTING.md walks through what to change first");
    Ok(())
}

/// The template with every `{{key}}` replaced.
fn render(template: &str, vars: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut text = template.to_string();
    for (key, value) in vars {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(at) = text.find("{{") {
        let rest: String = text[at..].chars().take(30).collect();
        bail!("template placeholder left unfilled at {rest:?}");
    }
    Ok(text)
}

/// Adds `member` to the root manifest's `members`.
fn add_member(root: &Path, member: &str) -> anyhow::Result<()> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).context("reading Cargo.toml")?;
    std::fs::write(&path, with_member(&text, member)?).context("writing Cargo.toml")
}

/// The manifest `text` with `member` in its `members`, after the other
/// plugins.
fn with_member(text: &str, member: &str) -> anyhow::Result<String> {
    let start = text
        .find("members = [")
        .context("the root Cargo.toml has no `members = [` list")?;
    let open = start + "members = [".len();
    let close = open
        + text[open..]
            .find(']')
            .context("the members list is not closed")?;
    let mut members: Vec<String> = text[open..close]
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty())
        .collect();
    let at = members
        .iter()
        .rposition(|m| m.starts_with("plugins/"))
        .map_or(members.len(), |i| i + 1);
    members.insert(at, member.to_string());
    let list = members
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!("{}{list}{}", &text[..open], &text[close..]))
}

/// Adds the crate to the list in plugins/README.md, when there is one.
fn add_to_plugin_list(
    root: &Path,
    name: &str,
    package: &str,
    description: &str,
) -> anyhow::Result<()> {
    let path = root.join("plugins/README.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let line = format!("- `{name}` → `{package}` ({description})");
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("- `"))
        .map_or(lines.len(), |i| i + 1);
    lines.insert(at, &line);
    std::fs::write(&path, lines.join("\n") + "\n").context("writing plugins/README.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_words_joined_by_single_dashes() {
        assert!(valid_name("secrets-demo2"));
        for bad in ["", "Demo", "2fa", "a--b", "demo-", "a_b", "a/b", "../x"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn rendering_fills_every_placeholder_or_says_which_is_left() {
        assert_eq!(
            render("{{a}} and {{b}}", &[("a", "1"), ("b", "2")]).expect("filled"),
            "1 and 2"
        );
        let err = render("{{a}} {{c}}", &[("a", "1")]).expect_err("c is unfilled");
        assert!(err.to_string().contains("{{c}}"), "{err}");
    }

    #[test]
    fn a_new_member_joins_the_plugins_in_the_real_manifest() {
        let root = plugins::workspace_root();
        let text = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        let updated = with_member(&text, "plugins/secrets-demo").expect("a members list");
        let line = updated
            .lines()
            .find(|l| l.starts_with("members = ["))
            .expect("members line");
        let members: Vec<&str> = line
            .trim_start_matches("members = [")
            .trim_end_matches(']')
            .split(", ")
            .collect();
        let at = members
            .iter()
            .position(|m| *m == "\"plugins/secrets-demo\"")
            .expect("added");
        assert!(members[at - 1].starts_with("\"plugins/"), "{line}");
        assert_eq!(updated.replace(", \"plugins/secrets-demo\"", ""), text);
    }
}
