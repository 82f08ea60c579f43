//! `cargo xtask bench`'s rows for the LDAP auth plugin: logins per second
//! through OpenBao at 16 concurrent clients against one private slapd, with
//! the plugin's connection pool (`connection_pool_size` 32, so every client
//! reuses connections) beside a fresh connection per login
//! (`connection_pool_size` 0, what Vault's Go method does), over ldap:// and
//! ldaps://; and the ceiling: the same LDAP operations done directly by
//! ldap3 on pooled connections, without OpenBao.
//!
//! A fourth contender bounds what any plugin login can reach here: the
//! SDK's userpass example through the same OpenBao (a cached user and a
//! password comparison, no LDAP). Pooling can make an LDAP login no faster
//! than that, so `floor / per-login` is the most pooling could gain.
//!
//! Each contender's rows say how many connections slapd accepted during
//! the measured logins, so a pooled figure that dialled is visible. Through
//! OpenBao most of a login's CPU is OpenBao's own (the request, the token,
//! the entity, the plugin's storage reads over gRPC), which bounds the
//! pooled-vs-direct ratio well below 1 on a small machine.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchOptions, ldap_escape};
use serde_json::{Value, json};
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};
use vault_plugin_test_support::slapd::{self, Slapd};

use crate::bench::{Row, ms, percentile};
use crate::bench_floor;
use crate::bench_jwt::{check, version_of};
use crate::plugins::{self, PluginBinary};

const CONCURRENCY: usize = 16;
/// Big enough that the 16 clients' service and user connections all stay
/// pooled.
const POOL_SIZE: u32 = 32;
const PLUGIN: &str = "ldap-rs";
/// The fixture's users that log in, round-robin.
const USERS: [(&str, &str); 4] = [
    ("alice", "alice-pass"),
    ("bob", "bob-pass"),
    ("carol", "carol-pass"),
    ("dave", "dave-pass"),
];
/// One-way delay the proxy adds (see `rows`).
const NETWORK_DELAY: Duration = Duration::from_millis(1);
const GROUP_FILTER: &str = "(&(objectClass=groupOfNames)(member={{.UserDN}}))";

/// The plugin binary these rows mount.
pub fn binary() -> anyhow::Result<PluginBinary> {
    Ok(plugins::by_package("vault-plugin-auth-ldap")?.binary())
}

/// All the LDAP rows; the plugin binary must be built.
pub fn rows(bao_bin: &Path, quick: bool) -> anyhow::Result<Vec<Row>> {
    // Per contender and scheme; the per-login mode over ldaps:// is the
    // slowest (~100-300/s on two busy cores), which bounds the run time.
    let logins = if quick { 300 } else { 1500 };
    let binary = binary()?.release_path();
    let version = version_of(&binary)?;
    let ldap = Slapd::start();
    let bao = OpenBao::start_with(bao_bin);
    bao.register_plugin(PluginKind::Auth, PLUGIN, &binary, &version);
    bench_floor::mount(&bao, &users())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime for the direct ldap3 client")?;

    // Loopback hides what a connection per login costs where LDAP servers
    // really are: across a network. The third pair goes through a proxy
    // that delays every chunk by 1 ms each way (a 2 ms round trip).
    let delayed = runtime.block_on(delay_proxy(ldap.ldaps_port(), NETWORK_DELAY))?;
    let mut rows = Vec::new();
    for (scheme, suffix, url) in [
        ("ldap://", "ldap", ldap.url()),
        ("ldaps://", "ldaps", ldap.ldaps_url()),
        ("ldaps:// over a 2 ms round trip", "ldaps-2ms", delayed),
    ] {
        let pooled = format!("ldap-pooled-{suffix}");
        let fresh = format!("ldap-fresh-{suffix}");
        for (mount, pool_size) in [(&pooled, POOL_SIZE), (&fresh, 0)] {
            mount_ldap(&bao, &ldap, mount, &version, &url, pool_size)?;
        }
        let direct = runtime.block_on(Direct::connect(&url))?;

        // Warm-up: every user on each mount (entities, the pool), and the
        // direct client's connections.
        for mount in [&pooled, &fresh, bench_floor::MOUNT] {
            run_logins(bao.addr(), mount, 4 * CONCURRENCY)?;
        }
        runtime.block_on(direct.run(4 * CONCURRENCY))?;

        // Two halves in turn (pooled, fresh, direct, floor, then back) so
        // drift on a busy machine falls on all four.
        let mut p = Tally::default();
        let mut f = Tally::default();
        let mut d = Tally::default();
        let mut floor = Tally::default();
        let half = logins / 2;
        for forward in [true, false] {
            let order: [u8; 4] = if forward { [0, 1, 2, 3] } else { [3, 2, 1, 0] };
            for which in order {
                let accepted = ldap.accepted_connections();
                let (tally, run) = match which {
                    0 => (&mut p, run_logins(bao.addr(), &pooled, half)?),
                    1 => (&mut f, run_logins(bao.addr(), &fresh, half)?),
                    2 => (&mut d, runtime.block_on(direct.run(half))?),
                    _ => (
                        &mut floor,
                        run_logins(bao.addr(), bench_floor::MOUNT, half)?,
                    ),
                };
                tally.add(run);
                tally.dials += ldap.accepted_connections() - accepted;
            }
        }

        rows.push(Row::rates(
            format!(
                "LDAP logins/s via OpenBao, {scheme}, {CONCURRENCY} concurrent, {logins} each: pooled, {} dials (vs a connection per login, {} dials; goal >= 3x)",
                p.dials, f.dials
            ),
            p.rate(),
            f.rate(),
        ));
        rows.push(Row::rates(
            format!(
                "LDAP logins/s, {scheme}: pooled via OpenBao (vs the same LDAP operations by ldap3 directly; goal >= 0.6x)"
            ),
            p.rate(),
            d.rate(),
        ));
        rows.push(Row::rates(
            format!(
                "LDAP logins/s, {scheme}: pooled via OpenBao (vs the plugin-login floor: the SDK's userpass example via the same OpenBao, no LDAP)"
            ),
            p.rate(),
            floor.rate(),
        ));
        rows.push(Row::rates(
            format!(
                "LDAP logins/s, {scheme}: the plugin-login floor (vs a connection per login): the most pooling could gain"
            ),
            floor.rate(),
            f.rate(),
        ));
        let (p50, p99) = p.p50_p99();
        for (name, other) in [("a connection per login", &f), ("ldap3 directly", &d)] {
            let (o50, o99) = other.p50_p99();
            rows.push(Row {
                what: format!("LDAP login p50 / p99, {scheme}: pooled via OpenBao (vs {name})"),
                ours: format!("{} / {}", ms(p50), ms(p99)),
                comparison: format!("{} / {}", ms(o50), ms(o99)),
                ratio: format!(
                    "{} / {}",
                    crate::bench::ratio(p50, o50),
                    crate::bench::ratio(p99, o99)
                ),
            });
        }
    }
    Ok(rows)
}

/// Mounts ours at `auth/<mount>` with the tests' service-account config.
fn mount_ldap(
    bao: &OpenBao,
    ldap: &Slapd,
    mount: &str,
    version: &str,
    url: &str,
    pool_size: u32,
) -> anyhow::Result<()> {
    check(bao.enable_auth(mount, PLUGIN, version), "mount ours")?;
    let mut config = ldap.auth_config();
    config["url"] = json!(url);
    config["request_timeout"] = json!(10);
    config["connection_timeout"] = json!(10);
    config["connection_pool_size"] = json!(pool_size);
    if url.starts_with("ldaps://") {
        config["certificate"] = Value::from(ldap.ca_pem());
    }
    check(
        bao.write(&format!("auth/{mount}/config"), config),
        &format!("auth/{mount}/config"),
    )
}

/// Logins done and how long they took, over one or more runs.
#[derive(Default)]
struct Tally {
    logins: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Connections slapd accepted meanwhile.
    dials: usize,
}

impl Tally {
    fn add(&mut self, run: Tally) {
        self.logins += run.logins;
        self.elapsed += run.elapsed;
        self.latencies.extend(run.latencies);
    }

    fn rate(&self) -> f64 {
        self.logins as f64 / self.elapsed.as_secs_f64()
    }

    fn p50_p99(&self) -> (Duration, Duration) {
        (
            percentile(self.latencies.clone(), 0.5),
            percentile(self.latencies.clone(), 0.99),
        )
    }
}

/// [`USERS`] as the floor and the load generator take them.
fn users() -> Vec<(String, String)> {
    USERS
        .iter()
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .collect()
}

/// `total` logins at `auth/<mount>/login/<user>` from [`CONCURRENCY`]
/// threads, each with its own keep-alive HTTP connection.
fn run_logins(addr: &str, mount: &str, total: usize) -> anyhow::Result<Tally> {
    let run = bench_floor::password_logins(addr, mount, &users(), total, CONCURRENCY)?;
    Ok(Tally {
        logins: run.ops,
        elapsed: run.elapsed,
        latencies: run.latencies,
        dials: 0,
    })
}

/// The ceiling: a login's LDAP operations done directly by ldap3, with the
/// plugin's pooled shape (a service-bound connection for the searches and a
/// second one for the user's bind) for each of [`CONCURRENCY`] tasks.
struct Direct {
    /// One (service, user) pair of connections per task, kept between runs.
    pairs: Vec<Arc<tokio::sync::Mutex<(Ldap, Ldap)>>>,
}

impl Direct {
    async fn connect(url: &str) -> anyhow::Result<Direct> {
        let mut pairs = Vec::with_capacity(CONCURRENCY);
        for _ in 0..CONCURRENCY {
            let mut service = dial(url).await?;
            service
                .simple_bind(slapd::BIND_DN, slapd::BIND_PASSWORD)
                .await?
                .success()
                .context("bind as the service account")?;
            let user = dial(url).await?;
            pairs.push(Arc::new(tokio::sync::Mutex::new((service, user))));
        }
        Ok(Direct { pairs })
    }

    async fn run(&self, total: usize) -> anyhow::Result<Tally> {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = self
            .pairs
            .iter()
            .map(|pair| {
                let (pair, next) = (Arc::clone(pair), Arc::clone(&next));
                tokio::spawn(async move {
                    let mut guard = pair.lock().await;
                    let (service, user) = &mut *guard;
                    let mut latencies = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            return Ok::<_, anyhow::Error>(latencies);
                        }
                        let (name, password) = USERS[i % USERS.len()];
                        let started = Instant::now();
                        direct_login(service, user, name, password).await?;
                        latencies.push(started.elapsed());
                    }
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(total);
        for task in tasks {
            latencies.extend(task.await.context("a direct login task panicked")??);
        }
        Ok(Tally {
            logins: total,
            elapsed: start.elapsed(),
            latencies,
            dials: 0,
        })
    }
}

async fn dial(url: &str) -> anyhow::Result<Ldap> {
    // The connections stay open for the whole bench, so the handshake (and
    // the certificate check skipped here) is outside what is measured.
    let settings = LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(10))
        .set_no_tls_verify(true);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url)
        .await
        .with_context(|| format!("connect to {url}"))?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// What the plugin asks of the directory for one login, with the same
/// filters and attributes: the user's entry by uid (as the service
/// account), a bind as the user, the user's groups (as the service account).
async fn direct_login(
    service: &mut Ldap,
    user: &mut Ldap,
    name: &str,
    password: &str,
) -> anyhow::Result<()> {
    let filter = format!("(uid={})", ldap_escape(name));
    let (entries, _) = service
        .with_search_options(SearchOptions::new().sizelimit(2))
        .search(slapd::USERS_DN, Scope::Subtree, &filter, vec!["uid"])
        .await?
        .success()
        .with_context(|| format!("search {filter}"))?;
    let [entry] = entries.as_slice() else {
        bail!("{filter} found {} entries", entries.len());
    };
    let dn = ldap3::SearchEntry::construct(entry.clone()).dn;
    user.simple_bind(&dn, password)
        .await?
        .success()
        .with_context(|| format!("bind as {dn}"))?;
    let groups = GROUP_FILTER.replace("{{.UserDN}}", &ldap_escape(&dn));
    service
        .search(slapd::GROUPS_DN, Scope::Subtree, &groups, vec!["cn"])
        .await?
        .success()
        .with_context(|| format!("search {groups}"))?;
    Ok(())
}

/// A TCP proxy to `127.0.0.1:port` that holds every chunk for `delay`
/// before passing it on, in both directions; returns its `ldaps://` URL.
async fn delay_proxy(port: u16, delay: Duration) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the delay proxy")?;
    let url = format!("ldaps://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::join!(pump(cr, sw, delay), pump(sr, cw, delay));
            });
        }
    });
    Ok(url)
}

/// Copies `from` to `to`, each chunk `delay` late. Chunks keep their order
/// and later ones are not held behind earlier ones' delay (a link's
/// latency, not a bandwidth limit).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
