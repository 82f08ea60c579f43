//! `cargo xtask soak`: long load on each plugin through a real OpenBao
//! (JWT logins; LDAP logins against a private slapd; AWS `sts/` and
//! `creds/` + revoke against moto), watching the plugin process: errors,
//! RSS after the run against RSS after warm-up, open file descriptors and
//! sockets, latency percentiles.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use vault_plugin_test_support::jwt::{Alg, SigningKey, now};
use vault_plugin_test_support::moto::Moto;
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};
use vault_plugin_test_support::process;
use vault_plugin_test_support::slapd::Slapd;

use crate::args::Args;
use crate::bench::{ms, percentile};
use crate::bench_jwt::{check, version_of};
use crate::load::{self, OnError};
use crate::{plugins, tools};

const HELP: &str = "\
cargo xtask soak [--requests N] [--concurrency C] [--jwt] [--ldap] [--aws]

Builds the release plugins, starts OpenBao, and sends each named plugin
(all three when none is named) N requests (default 100000) from C
concurrent clients (default 64) after a warm-up of N/10:
  jwt   logins with a static RS256 key
  ldap  logins against a private slapd (needs slapd installed)
  aws   alternately sts/ (assumed_role) and creds/ + lease revoke against
        moto; moto handles a few hundred calls a second, so N=100000 takes
        hours: pass a smaller --requests for it
It reports errors, throughput, p50/p99/max latency, and the plugin's RSS,
open files and sockets after warm-up and after the run. The verdict needs
zero errors, RSS within 10% of the warm-up figure, no more files or
sockets than after warm-up, and the same plugin process throughout.";

struct Settings {
    requests: usize,
    concurrency: usize,
}

/// The plugin process's resources at one moment.
#[derive(Clone, Copy)]
struct Usage {
    rss_kib: u64,
    fds: usize,
    sockets: usize,
}

impl Usage {
    fn of(pid: u32) -> anyhow::Result<Usage> {
        let rss_kib = process::rss_kib(pid).context("the plugin's RSS")?;
        let (fds, sockets) = process::open_fds(pid).context("the plugin's open files")?;
        Ok(Usage {
            rss_kib,
            fds,
            sockets,
        })
    }
}

/// One plugin's soak.
struct Report {
    name: &'static str,
    run: load::Run,
    warm: Usage,
    end: Usage,
    restarted: bool,
}

impl Report {
    fn rss_growth(&self) -> f64 {
        (self.end.rss_kib as f64 - self.warm.rss_kib as f64) / self.warm.rss_kib as f64
    }

    fn verdict(&self) -> &'static str {
        let held = self.run.errors.is_empty()
            && self.rss_growth() <= 0.10
            && self.end.fds <= self.warm.fds
            && self.end.sockets <= self.warm.sockets
            && !self.restarted;
        if held { "held" } else { "FAILED" }
    }
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut settings = Settings {
        requests: 100_000,
        concurrency: 64,
    };
    let mut named = Vec::new();
    let mut reader = Args::new(args);
    while let Some((flag, inline)) = reader.next_arg() {
        match flag {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            "--requests" => settings.requests = reader.value(flag, inline)?.parse()?,
            "--concurrency" => settings.concurrency = reader.value(flag, inline)?.parse()?,
            "--jwt" | "--ldap" | "--aws" => named.push(flag),
            other => bail!("unknown argument {other:?}\n\n{HELP}"),
        }
    }
    if settings.requests == 0 || settings.concurrency == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    let wanted = |section: &str| named.is_empty() || named.contains(&section);

    let bao_bin = tools::ensure_openbao()?;
    plugins::build_release_all()?;
    let bao = OpenBao::start_with(&bao_bin);
    let mut reports = Vec::new();
    if wanted("--jwt") {
        reports.push(soak_jwt(&bao, &settings)?);
    }
    if wanted("--ldap") {
        reports.push(soak_ldap(&bao, &settings)?);
    }
    if wanted("--aws") {
        let moto = Moto::start_with(&tools::ensure_moto()?);
        reports.push(soak_aws(&bao, &moto, &settings)?);
    }
    print_reports(&reports, &settings);
    if reports.iter().any(|r| r.verdict() != "held") {
        for r in reports.iter().filter(|r| !r.run.errors.is_empty()) {
            eprintln!("{}: first errors:", r.name);
            for e in r.run.errors.iter().take(5) {
                eprintln!("  {e}");
            }
        }
        bail!("a soak did not hold");
    }
    Ok(())
}

/// Registers and mounts the plugin of `package`; its process id comes once
/// it has served a request.
fn mount(bao: &OpenBao, package: &str, kind: PluginKind, path: &str) -> anyhow::Result<String> {
    let binary = plugins::by_package(package)?.binary().release_path();
    let version = version_of(&binary)?;
    let name = format!("soak-{}", path.trim_end_matches('/'));
    bao.register_plugin(kind, &name, &binary, &version);
    let resp = match kind {
        PluginKind::Auth => bao.enable_auth(path, &name, &version),
        PluginKind::Secret => bao.enable_secrets(path, &name, &version),
    };
    check(resp, &format!("mount {path}"))?;
    Ok(format!("{name}-{version}"))
}

fn plugin_pid(bao: &OpenBao, command: &str) -> anyhow::Result<u32> {
    match bao.plugin_pids(command).as_slice() {
        [pid] => Ok(*pid),
        other => bail!("expected one {command} process, found {other:?}"),
    }
}

/// Warms up with a tenth of the requests, then runs them all, sampling the
/// plugin between and after.
fn soak<F>(
    bao: &OpenBao,
    name: &'static str,
    command: &str,
    settings: &Settings,
    op: F,
) -> anyhow::Result<Report>
where
    F: Fn(&ureq::Agent, usize) -> Result<(), String> + Sync,
{
    let warm_up = (settings.requests / 10).max(settings.concurrency);
    println!("xtask: soak {name}: warm-up, {warm_up} requests");
    load::run(warm_up, settings.concurrency, OnError::Stop, &op)
        .clean()
        .with_context(|| format!("{name} warm-up"))?;
    let pid = plugin_pid(bao, command)?;
    // Let the host's idle connections and the allocator settle.
    std::thread::sleep(Duration::from_secs(1));
    let warm = Usage::of(pid)?;
    println!(
        "xtask: soak {name}: {} requests from {} clients",
        settings.requests, settings.concurrency
    );
    let run = load::run(settings.requests, settings.concurrency, OnError::Count, &op);
    std::thread::sleep(Duration::from_secs(1));
    let restarted = plugin_pid(bao, command).map_or(true, |now| now != pid);
    let end = if restarted { warm } else { Usage::of(pid)? };
    Ok(Report {
        name,
        run,
        warm,
        end,
        restarted,
    })
}

fn soak_jwt(bao: &OpenBao, settings: &Settings) -> anyhow::Result<Report> {
    let command = mount(bao, "vault-plugin-auth-jwt", PluginKind::Auth, "jwt")?;
    let key = SigningKey::generate(Alg::RS256, "soak");
    check(
        bao.write(
            "auth/jwt/config",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "bound_issuer": "https://soak.test"}),
        ),
        "auth/jwt/config",
    )?;
    check(
        bao.write(
            "auth/jwt/role/soak",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["soak"], "token_ttl": "10m"}),
        ),
        "auth/jwt/role/soak",
    )?;
    // Distinct subjects, so logins make and reuse a fixed set of entities.
    let bodies: Vec<String> = (0..256)
        .map(|i| {
            let jwt = key.sign(&json!({
                "iss": "https://soak.test", "aud": "soak", "sub": format!("user-{i}"),
                "iat": now(), "nbf": now() - 5, "exp": now() + 6 * 3600,
            }));
            json!({"role": "soak", "jwt": jwt}).to_string()
        })
        .collect();
    let url = format!("{}/v1/auth/jwt/login", bao.addr());
    soak(bao, "jwt logins", &command, settings, |agent, i| {
        load::call(agent, "POST", &url, Some(&bodies[i % bodies.len()]), None).map(drop)
    })
}

fn soak_ldap(bao: &OpenBao, settings: &Settings) -> anyhow::Result<Report> {
    if !vault_plugin_test_support::slapd::available() {
        bail!(
            "slapd is not installed: `apt-get install slapd ldap-utils` (or run `cargo xtask test` once as root)"
        );
    }
    let slapd = Slapd::start();
    let command = mount(bao, "vault-plugin-auth-ldap", PluginKind::Auth, "ldap")?;
    let mut config = slapd.auth_config();
    config["token_ttl"] = json!("10m");
    check(bao.write("auth/ldap/config", config), "auth/ldap/config")?;
    let users = [
        ("alice", "alice-pass"),
        ("bob", "bob-pass"),
        ("carol", "carol-pass"),
        ("dave", "dave-pass"),
    ];
    let calls: Vec<(String, String)> = users
        .iter()
        .map(|(user, password)| {
            (
                format!("{}/v1/auth/ldap/login/{user}", bao.addr()),
                json!({"password": password}).to_string(),
            )
        })
        .collect();
    let report = soak(bao, "ldap logins", &command, settings, |agent, i| {
        let (url, body) = &calls[i % calls.len()];
        load::call(agent, "POST", url, Some(body), None).map(drop)
    });
    drop(slapd);
    report
}

fn soak_aws(bao: &OpenBao, moto: &Moto, settings: &Settings) -> anyhow::Result<Report> {
    let command = mount(bao, "vault-plugin-secrets-aws", PluginKind::Secret, "aws")?;
    check(
        bao.write(
            "aws/config/root",
            json!({
                "access_key": "AKIASOAKEXAMPLE",
                "secret_key": "soak-secret-example",
                "region": "us-east-1",
                "iam_endpoint": moto.endpoint(),
                "sts_endpoint": moto.endpoint(),
            }),
        ),
        "aws/config/root",
    )?;
    let role_arn = moto.create_role("soak-target");
    check(
        bao.write(
            "aws/roles/assume",
            json!({"credential_type": "assumed_role", "role_arns": [role_arn]}),
        ),
        "aws/roles/assume",
    )?;
    check(
        bao.write(
            "aws/roles/users",
            json!({
                "credential_type": "iam_user",
                "policy_document": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            }),
        ),
        "aws/roles/users",
    )?;
    let addr = bao.addr().to_string();
    let token = bao.root_token().to_string();
    let sts = format!("{addr}/v1/aws/sts/assume");
    let creds = format!("{addr}/v1/aws/creds/users");
    let revoke = format!("{addr}/v1/sys/leases/revoke");
    soak(
        bao,
        "aws sts/ + creds/ and revoke",
        &command,
        settings,
        |agent, i| {
            if i % 2 == 0 {
                return load::call(agent, "GET", &sts, None, Some(&token)).map(drop);
            }
            let issued = load::call(agent, "GET", &creds, None, Some(&token))?;
            let lease_id = serde_json::from_str::<Value>(&issued)
                .ok()
                .and_then(|v| v["lease_id"].as_str().map(str::to_string))
                .ok_or_else(|| format!("creds/ answered without a lease: {issued}"))?;
            let body = json!({"lease_id": lease_id}).to_string();
            load::call(agent, "POST", &revoke, Some(&body), Some(&token)).map(drop)
        },
    )
}

fn print_reports(reports: &[Report], settings: &Settings) {
    println!();
    println!(
        "soak: {} requests per plugin from {} concurrent clients, through OpenBao",
        settings.requests, settings.concurrency
    );
    println!();
    println!(
        "| plugin | errors | rate | p50 | p99 | max | RSS warm -> end | files warm -> end | sockets warm -> end | verdict |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in reports {
        let latencies = &r.run.latencies;
        let max = latencies.iter().max().copied().unwrap_or_default();
        println!(
            "| {} | {} | {:.0}/s | {} | {} | {} | {:.1} -> {:.1} MiB ({:+.1}%) | {} -> {} | {} -> {} | {}{} |",
            r.name,
            r.run.errors.len(),
            r.run.rate(),
            ms(percentile(latencies.clone(), 0.5)),
            ms(percentile(latencies.clone(), 0.99)),
            ms(max),
            r.warm.rss_kib as f64 / 1024.0,
            r.end.rss_kib as f64 / 1024.0,
            r.rss_growth() * 100.0,
            r.warm.fds,
            r.end.fds,
            r.warm.sockets,
            r.end.sockets,
            r.verdict(),
            if r.restarted {
                " (plugin restarted)"
            } else {
                ""
            },
        );
    }
}
