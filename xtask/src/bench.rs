//! `cargo xtask bench`: the plugins measured in a real OpenBao, each figure
//! beside a comparison taken in the same run (the machines are noisy, so
//! ratios are what carry over).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use vault_plugin_sdk::transport::automtls;
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};
use vault_plugin_test_support::process;

use crate::plugins::PluginBinary;
use crate::{bench_aws, bench_jwt, bench_ldap, plugins, tools};

const HELP: &str = "\
cargo xtask bench [--quick] [--startup] [--sdk] [--jwt] [--ldap] [--aws]

Builds the release binaries, starts OpenBao (installing it, and moto, like
`xtask test`) and prints one table. Each figure stands beside a comparison
measured in the same run; the ratio is always ours / comparison (below 1x
is better for times and sizes, above 1x for rates). Sections, all by
default or only those named:

  --startup  per plugin binary (the SDK's kv example and every shipped
             plugin): stripped size beside OpenBao's own binary, exec ->
             handshake beside `bao version` (exec -> exit of a Go binary),
             RSS after the handshake.
  --sdk      through OpenBao with the kv example: a new mount while another
             runs, relaunch after SIGKILL, GET latency, each beside OpenBao's
             built-in kv engine; the path framework's cost (a framework
             path's GET beside the protocol-layer example's).
  --jwt      RS256 verify + claim checks per second on one core, in-process
             (`cargo bench -p vault-plugin-auth-jwt --bench verify`) beside
             aws-lc's bare verify; logins per second through OpenBao at 16
             and 64 concurrent clients with their p99, for a static key and
             a JWKS URL, ours beside OpenBao's built-in Go `jwt` method.
  --ldap     logins per second (p50 / p99) through OpenBao at 16 concurrent
             clients against a private slapd, pooled connections beside a
             connection per login (Vault's way), over ldap:// and ldaps://,
             and beside the ceiling (ldap3 directly, without OpenBao).
  --aws      credential issuance through OpenBao against moto (creds/ for
             iam_user, sts/ for assumed_role and federation_token), median
             and p90, beside the same AWS calls made directly to moto.

  --quick    fewer iterations everywhere.";

use vault_plugin_sdk::server::{
    MAGIC_COOKIE_KEY as COOKIE_KEY, MAGIC_COOKIE_VALUE as COOKIE_VALUE,
};

pub(crate) struct Row {
    pub what: String,
    pub ours: String,
    pub comparison: String,
    pub ratio: String,
}

impl Row {
    /// A row of two rates per second, with their ratio.
    pub fn rates(what: String, ours: f64, comparison: f64) -> Row {
        Row {
            what,
            ours: format!("{ours:.0}/s"),
            comparison: format!("{comparison:.0}/s"),
            ratio: format!("{:.2}x", ours / comparison),
        }
    }
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

pub(crate) fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(idx).copied().unwrap_or_default()
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) fn ratio(ours: Duration, theirs: Duration) -> String {
    if theirs.is_zero() {
        return "-".into();
    }
    format!("{:.2}x", ours.as_secs_f64() / theirs.as_secs_f64())
}

/// A host certificate as PEM, made as hosts make theirs.
fn host_cert_pem() -> anyhow::Result<String> {
    let id = automtls::Identity::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(automtls::pem_encode(&id.cert))
}

/// Launches the binary as a host does; returns (time to handshake, RSS KiB).
fn handshake_once(binary: &std::path::Path, cert_pem: &str) -> anyhow::Result<(Duration, u64)> {
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env(COOKIE_KEY, COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env("PLUGIN_CLIENT_CERT", cert_pem)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn plugin")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let elapsed = start.elapsed();
    if !line.starts_with("1|5|unix|") {
        bail!("unexpected handshake {line:?}");
    }
    std::thread::sleep(Duration::from_millis(50));
    let rss = process::rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok((elapsed, rss))
}

fn time_request(bao: &OpenBao, path: &str) -> Duration {
    let start = Instant::now();
    let r = bao.read(path);
    let elapsed = start.elapsed();
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    elapsed
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    const SECTIONS: [&str; 5] = ["--startup", "--sdk", "--jwt", "--ldap", "--aws"];
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return Ok(());
    }
    if let Some(other) = args
        .iter()
        .find(|a| *a != "--quick" && !SECTIONS.contains(&a.as_str()))
    {
        bail!("unknown argument {other:?}\n\n{HELP}");
    }
    let quick = args.iter().any(|a| a == "--quick");
    let any_named = args.iter().any(|a| SECTIONS.contains(&a.as_str()));
    let wanted = |section: &str| !any_named || args.iter().any(|a| a == section);

    let bao_bin = tools::ensure_openbao()?;
    let examples = plugins::sdk_examples();
    let example = examples
        .iter()
        .find(|b| b.target == "kv")
        .context("the kv example is in the build list")?;
    let framework_example = examples
        .iter()
        .find(|b| b.target == "leases")
        .context("the leases example is in the build list")?;
    let shipped = plugins::shipped()?;

    plugins::build_release_all()?;

    let mut rows = Vec::new();
    if wanted("--startup") {
        let launches = if quick { 10 } else { 40 };
        rows.extend(startup_rows(
            &bao_bin,
            "example-kv",
            &example.release_path(),
            launches,
        )?);
        for plugin in &shipped {
            let binary = plugin.binary().release_path();
            rows.extend(startup_rows(&bao_bin, &plugin.binary, &binary, launches)?);
        }
    }
    if wanted("--sdk") {
        rows.extend(sdk_rows(&bao_bin, quick, example, framework_example)?);
    }
    if wanted("--jwt") {
        rows.extend(bench_jwt::rows(&bao_bin, quick)?);
    }
    if wanted("--ldap") {
        rows.extend(bench_ldap::rows(&bao_bin, quick)?);
    }
    if wanted("--aws") {
        let moto = tools::ensure_moto()?;
        rows.extend(bench_aws::rows(&bao_bin, &moto, quick)?);
    }
    print_table(&rows);
    Ok(())
}

/// A binary's size, exec -> handshake and RSS, beside OpenBao's own Go
/// binary (its size, and `bao version` from exec to exit: the cost of
/// starting a Go process on this machine).
fn startup_rows(
    bao_bin: &Path,
    label: &str,
    binary: &Path,
    launches: usize,
) -> anyhow::Result<Vec<Row>> {
    let size = std::fs::metadata(binary)
        .with_context(|| format!("{} is not built", binary.display()))?
        .len();
    let bao_size = std::fs::metadata(bao_bin)?.len();
    let cert = host_cert_pem()?;
    let mut handshakes = Vec::new();
    let mut rss = Vec::new();
    let mut go_starts = Vec::new();
    for _ in 0..launches {
        let (t, r) = handshake_once(binary, &cert)?;
        handshakes.push(t);
        rss.push(r);
        let start = Instant::now();
        Command::new(bao_bin)
            .arg("version")
            .stdout(Stdio::null())
            .status()?;
        go_starts.push(start.elapsed());
    }
    let (hs, go) = (median(handshakes), median(go_starts));
    rss.sort_unstable();
    Ok(vec![
        Row {
            what: format!("{label}: stripped binary size (vs bao)"),
            ours: format!("{:.2} MB", size as f64 / 1e6),
            comparison: format!("{:.2} MB", bao_size as f64 / 1e6),
            ratio: format!("{:.2}x", size as f64 / bao_size as f64),
        },
        Row {
            what: format!("{label}: exec -> handshake, median (vs `bao version`)"),
            ours: ms(hs),
            comparison: ms(go),
            ratio: ratio(hs, go),
        },
        Row {
            what: format!("{label}: RSS after handshake, median"),
            ours: format!("{:.1} MiB", rss[rss.len() / 2] as f64 / 1024.0),
            comparison: "Go: 11-13 MiB minimal, 32 MiB with Vault's SDK (issues 2, 6)".into(),
            ratio: "-".into(),
        },
    ])
}

/// The SDK's rows: the examples against OpenBao's own binary and built-in kv.
fn sdk_rows(
    bao_bin: &Path,
    quick: bool,
    example: &PluginBinary,
    framework_example: &PluginBinary,
) -> anyhow::Result<Vec<Row>> {
    let gets = if quick { 300 } else { 3000 };
    let binary = example.release_path();
    let mut rows = Vec::new();

    let bao = OpenBao::start_with(bao_bin);
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    bao.register_plugin(PluginKind::Secret, "example-kv", &binary, &version);
    bao.enable_secrets("p1", "example-kv", &version).ok();
    bao.write("p1/kv/bench", json!({"value": "x"})).ok();

    // A second mount while the first runs (the process is reused), against
    // mounting OpenBao's built-in kv.
    let mut ours = Vec::new();
    let mut builtin = Vec::new();
    for i in 0..5 {
        let start = Instant::now();
        bao.enable_secrets(&format!("extra{i}"), "example-kv", &version)
            .ok();
        ours.push(start.elapsed());
        let start = Instant::now();
        bao.request(
            "POST",
            &format!("sys/mounts/builtin{i}"),
            Some(json!({"type": "kv", "options": {"version": "1"}})),
        )
        .ok();
        builtin.push(start.elapsed());
    }
    let (m_ours, m_builtin) = (median(ours), median(builtin));
    rows.push(Row {
        what: "new mount while another runs, median (vs built-in kv mount)".into(),
        ours: ms(m_ours),
        comparison: ms(m_builtin),
        ratio: ratio(m_ours, m_builtin),
    });

    // From SIGKILL to the first successful GET (OpenBao relaunches the
    // plugin on demand), against the same GET on a running plugin. OpenBao
    // may first answer on its stale connection (500): those tries count.
    let command = format!("example-kv-{version}");
    let mut relaunch = Vec::new();
    let mut warm = Vec::new();
    let mut failed_tries = 0;
    for _ in 0..5 {
        warm.push(time_request(&bao, "p1/kv/bench"));
        let pids = bao.plugin_pids(&command);
        let start = Instant::now();
        for pid in &pids {
            process::kill(*pid);
        }
        loop {
            if bao.read("p1/kv/bench").status == 200 {
                break;
            }
            failed_tries += 1;
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the plugin was not relaunched within 10 s");
            }
        }
        relaunch.push(start.elapsed());
    }
    let (r_ours, r_warm) = (median(relaunch), median(warm));
    rows.push(Row {
        what: format!(
            "SIGKILL -> first good GET, median ({failed_tries} failed tries) (vs warm GET)"
        ),
        ours: ms(r_ours),
        comparison: ms(r_warm),
        ratio: ratio(r_ours, r_warm),
    });

    // GET latency through the plugin vs the built-in kv, interleaved so both
    // see the same machine.
    bao.write("builtin0/bench", json!({"value": "x"})).ok();
    for _ in 0..50 {
        time_request(&bao, "p1/kv/bench");
        time_request(&bao, "builtin0/bench");
    }
    let mut ours = Vec::with_capacity(gets);
    let mut builtin = Vec::with_capacity(gets);
    for _ in 0..gets {
        ours.push(time_request(&bao, "p1/kv/bench"));
        builtin.push(time_request(&bao, "builtin0/bench"));
    }
    let (g_ours, g_builtin) = (median(ours.clone()), median(builtin.clone()));
    rows.push(Row {
        what: format!("GET (storage read) median, {gets} sequential (vs built-in kv)"),
        ours: ms(g_ours),
        comparison: ms(g_builtin),
        ratio: ratio(g_ours, g_builtin),
    });
    let (p_ours, p_builtin) = (percentile(ours, 0.99), percentile(builtin, 0.99));
    rows.push(Row {
        what: "GET p99 (vs built-in kv)".into(),
        ours: ms(p_ours),
        comparison: ms(p_builtin),
        ratio: ratio(p_ours, p_builtin),
    });

    // The framework's own cost: a read routed, parsed and decoded by the
    // path framework (the leases example's role) against the same storage
    // read by the protocol-layer kv example.
    bao.register_plugin(
        PluginKind::Secret,
        "example-leases",
        &framework_example.release_path(),
        &version,
    );
    bao.enable_secrets("fw", "example-leases", &version).ok();
    bao.write("fw/roles/bench", json!({"prefix": "bench"})).ok();
    for _ in 0..50 {
        time_request(&bao, "fw/roles/bench");
        time_request(&bao, "p1/kv/bench");
    }
    let mut framework = Vec::with_capacity(gets);
    let mut protocol = Vec::with_capacity(gets);
    for _ in 0..gets {
        framework.push(time_request(&bao, "fw/roles/bench"));
        protocol.push(time_request(&bao, "p1/kv/bench"));
    }
    let (f, p) = (median(framework), median(protocol));
    rows.push(Row {
        what: "GET through a framework path, median (vs protocol-layer kv GET)".into(),
        ours: ms(f),
        comparison: ms(p),
        ratio: ratio(f, p),
    });
    Ok(rows)
}

fn print_table(rows: &[Row]) {
    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.ours.len()).max().unwrap_or(0).max(4);
    let w2 = rows
        .iter()
        .map(|r| r.comparison.len())
        .max()
        .unwrap_or(0)
        .max(10);
    println!();
    println!(
        "{:w0$}  {:>w1$}  {:>w2$}  ratio",
        "measure", "ours", "comparison"
    );
    for r in rows {
        println!(
            "{:w0$}  {:>w1$}  {:>w2$}  {}",
            r.what, r.ours, r.comparison, r.ratio
        );
    }
}
