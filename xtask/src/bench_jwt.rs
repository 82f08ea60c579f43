//! `cargo xtask bench`'s rows for the JWT auth plugin: the login checks'
//! CPU cost on one core beside aws-lc's bare RS256 verify, and logins per
//! second through OpenBao beside OpenBao's built-in Go `jwt` method with the
//! same config and role (a static key, then a JWKS URL), at 16 and 64
//! concurrent clients; and the plugin-login floor (`bench_floor`) beside
//! the built-in, which bounds what any plugin could reach.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use vault_plugin_test_support::jwt::{Alg, SigningKey, now};
use vault_plugin_test_support::oidc::OidcProvider;
use vault_plugin_test_support::openbao::{ApiResponse, OpenBao, PluginKind};

use crate::bench::{Row, ms, percentile};
use crate::bench_floor;
use crate::load::{self, OnError, Run};
use crate::plugins::{self, PluginBinary};

/// The floor for the login checks on one core.
const TARGET_PER_CORE: f64 = 20_000.0;
const CONCURRENCY: [usize; 2] = [16, 64];
/// Tokens signed up front (distinct subjects, so distinct entities), used
/// round-robin.
const TOKENS: usize = 64;
const PLUGIN: &str = "jwt-rs";

/// The plugin binary these rows mount.
pub fn binary() -> anyhow::Result<PluginBinary> {
    Ok(plugins::by_package("vault-plugin-auth-jwt")?.binary())
}

/// All the JWT rows; the plugin binary must be built.
pub fn rows(bao_bin: &Path, quick: bool) -> anyhow::Result<Vec<Row>> {
    let mut rows = vec![in_process(quick)?];
    rows.extend(through_openbao(bao_bin, quick)?);
    Ok(rows)
}

/// The bench target `plugins/auth-jwt/benches/verify.rs`, run by cargo in
/// the release profile: `cargo xtask` itself is a dev build, which would
/// measure unoptimised code.
fn in_process(quick: bool) -> anyhow::Result<Row> {
    let seconds = if quick { "1" } else { "2" };
    let args = [
        "bench",
        "-p",
        "vault-plugin-auth-jwt",
        "--bench",
        "verify",
        "--",
        "--seconds",
        seconds,
    ];
    println!("xtask: cargo {}", args.join(" "));
    let out = Command::new(plugins::cargo())
        .current_dir(plugins::workspace_root())
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo bench")?;
    if !out.status.success() {
        bail!("cargo bench --bench verify failed");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| -> anyhow::Result<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .with_context(|| format!("no {name} in the bench's output:\n{text}"))
    };
    let ours = value("verify_and_claims_per_sec ")?;
    let raw = value("raw_rs256_verify_per_sec ")?;
    let verdict = if ours >= TARGET_PER_CORE {
        "met"
    } else {
        "MISSED"
    };
    Ok(Row::rates(
        format!(
            "RS256 verify + claim checks, 1 core, in-process: target >= {TARGET_PER_CORE:.0}/s {verdict} (vs bare aws-lc RS256 verify)"
        ),
        ours,
        raw,
    ))
}

/// The version the binary reports (`<name> v<version>`), which the
/// registration must name.
pub(crate) fn version_of(binary: &Path) -> anyhow::Result<String> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", binary.display()))?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .map(str::to_string)
        .with_context(|| format!("{} --version printed nothing", binary.display()))
}

pub(crate) fn check(resp: ApiResponse, what: &str) -> anyhow::Result<()> {
    if !(200..300).contains(&resp.status) {
        bail!("{what}: {} {}", resp.status, resp.body);
    }
    Ok(())
}

/// One key source, mounted twice: ours and the built-in.
struct Setup {
    name: &'static str,
    ours: String,
    theirs: String,
    /// Login request bodies, each with its own token.
    bodies: Vec<String>,
}

fn through_openbao(bao_bin: &Path, quick: bool) -> anyhow::Result<Vec<Row>> {
    let logins = if quick { 300 } else { 2000 };
    let binary = binary()?.release_path();
    let version = version_of(&binary)?;
    let bao = OpenBao::start_with(bao_bin);
    bao.register_plugin(PluginKind::Auth, PLUGIN, &binary, &version);

    let static_key = SigningKey::generate(Alg::RS256, "k1");
    let idp = OidcProvider::start();
    let setups = [
        setup(
            &bao,
            "static RS256 key",
            "static",
            &version,
            json!({ "jwt_validation_pubkeys": [static_key.public_pem()] }),
            &static_key,
        )?,
        setup(
            &bao,
            "JWKS URL",
            "jwks",
            &version,
            json!({ "jwks_url": idp.jwks_url(), "jwks_ca_pem": idp.ca_pem() }),
            &idp.key(),
        )?,
    ];

    // The floor logs in as many distinct users as there are tokens, so
    // OpenBao keeps as many entities.
    let floor_users: Vec<(String, String)> = (0..TOKENS)
        .map(|i| (format!("user-{i}"), format!("password-{i}")))
        .collect();
    bench_floor::mount(&bao, &floor_users)?;
    bench_floor::password_logins(bao.addr(), bench_floor::MOUNT, &floor_users, 2 * TOKENS, 16)?;

    let mut rows = Vec::new();
    for s in &setups {
        // Every token once on each mount (entities, the JWKS fetch, the
        // plugin's caches), then the measured runs.
        for mount in [&s.ours, &s.theirs] {
            run_logins(bao.addr(), mount, &s.bodies, 2 * TOKENS, 16)?;
        }
        for concurrency in CONCURRENCY {
            let (ours, theirs) = measure(bao.addr(), s, logins, concurrency)?;
            rows.push(Row::rates(
                format!(
                    "logins/s via OpenBao, {}, {concurrency} concurrent, {logins} each (vs built-in jwt; goal >= 1x)",
                    s.name
                ),
                ours.rate(),
                theirs.rate(),
            ));
            let (p_ours, p_theirs) = (
                percentile(ours.latencies, 0.99),
                percentile(theirs.latencies, 0.99),
            );
            rows.push(Row {
                what: format!(
                    "login p99 via OpenBao, {}, {concurrency} concurrent (vs built-in jwt)",
                    s.name
                ),
                ours: ms(p_ours),
                comparison: ms(p_theirs),
                ratio: crate::bench::ratio(p_ours, p_theirs),
            });
        }
    }
    // What the goal asks of any plugin: the floor against the built-in,
    // and ours against the floor.
    let theirs = &setups[0];
    let floor_logins = |n: usize, concurrency: usize| {
        bench_floor::password_logins(bao.addr(), bench_floor::MOUNT, &floor_users, n, concurrency)
    };
    for concurrency in CONCURRENCY {
        let (ours, floor) = interleaved(
            logins,
            |n| run_logins(bao.addr(), &theirs.ours, &theirs.bodies, n, concurrency),
            |n| floor_logins(n, concurrency),
        )?;
        rows.push(Row::rates(
            format!(
                "logins/s via OpenBao, {}, {concurrency} concurrent: ours (vs the plugin-login floor)",
                theirs.name
            ),
            ours.rate(),
            floor.rate(),
        ));
        let (floor, builtin) = interleaved(
            logins,
            |n| floor_logins(n, concurrency),
            |n| run_logins(bao.addr(), &theirs.theirs, &theirs.bodies, n, concurrency),
        )?;
        rows.push(Row::rates(
            format!(
                "logins/s via OpenBao, {concurrency} concurrent: the plugin-login floor (the SDK's userpass example: a cached user, no storage call, no JWT) (vs built-in jwt, {}): the most any plugin login could reach",
                theirs.name
            ),
            floor.rate(),
            builtin.rate(),
        ));
    }
    Ok(rows)
}

/// Mounts ours at `auth/ours-<suffix>` and the built-in at
/// `auth/theirs-<suffix>`, both with `config` and the role `bench`, and
/// signs the tokens.
fn setup(
    bao: &OpenBao,
    name: &'static str,
    suffix: &str,
    version: &str,
    config: Value,
    key: &SigningKey,
) -> anyhow::Result<Setup> {
    let (ours, theirs) = (format!("ours-{suffix}"), format!("theirs-{suffix}"));
    check(bao.enable_auth(&ours, PLUGIN, version), "mount ours")?;
    check(
        bao.request(
            "POST",
            &format!("sys/auth/{theirs}"),
            Some(json!({"type": "jwt"})),
        ),
        "mount the built-in jwt",
    )?;
    let role = json!({
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_audiences": ["vault"],
    });
    for mount in [&ours, &theirs] {
        check(
            bao.write(&format!("auth/{mount}/config"), config.clone()),
            &format!("auth/{mount}/config"),
        )?;
        check(
            bao.write(&format!("auth/{mount}/role/bench"), role.clone()),
            &format!("auth/{mount}/role/bench"),
        )?;
    }
    let bodies = (0..TOKENS)
        .map(|i| {
            let jwt = key.sign(&json!({
                "sub": format!("user-{i}"),
                "aud": "vault",
                "iat": now(),
                "nbf": now() - 5,
                "exp": now() + 3600,
            }));
            json!({ "role": "bench", "jwt": jwt }).to_string()
        })
        .collect();
    Ok(Setup {
        name,
        ours,
        theirs,
        bodies,
    })
}

/// Logins done and how long they took, over one or more runs.
#[derive(Default)]
struct Tally {
    logins: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Tally {
    fn rate(&self) -> f64 {
        self.logins as f64 / self.elapsed.as_secs_f64()
    }
}

/// `logins` on each mount, in two halves taken in turn (ours, theirs,
/// theirs, ours) so drift on a busy machine falls on both.
fn measure(
    addr: &str,
    s: &Setup,
    logins: usize,
    concurrency: usize,
) -> anyhow::Result<(Tally, Tally)> {
    interleaved(
        logins,
        |n| run_logins(addr, &s.ours, &s.bodies, n, concurrency),
        |n| run_logins(addr, &s.theirs, &s.bodies, n, concurrency),
    )
}

/// `logins` of each contender, in two halves taken in turn (a, b, b, a).
fn interleaved(
    logins: usize,
    a: impl Fn(usize) -> anyhow::Result<Run>,
    b: impl Fn(usize) -> anyhow::Result<Run>,
) -> anyhow::Result<(Tally, Tally)> {
    let (mut first, mut second) = (Tally::default(), Tally::default());
    let half = logins / 2;
    for a_first in [true, false] {
        for is_a in [a_first, !a_first] {
            let (run, tally) = if is_a {
                (a(half)?, &mut first)
            } else {
                (b(half)?, &mut second)
            };
            tally.logins += half;
            tally.elapsed += run.elapsed;
            tally.latencies.extend(run.latencies);
        }
    }
    Ok((first, second))
}

/// `total` logins at `auth/<mount>/login` from `concurrency` threads, each
/// with its own keep-alive connection.
fn run_logins(
    addr: &str,
    mount: &str,
    bodies: &[String],
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Run> {
    let url = format!("{addr}/v1/auth/{mount}/login");
    load::run(total, concurrency, OnError::Stop, |agent, i| {
        load::call(agent, "POST", &url, Some(&bodies[i % bodies.len()]), None).map(drop)
    })
    .clean()
}
