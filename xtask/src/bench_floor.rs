//! The plugin-login floor: the SDK's userpass example mounted in the same
//! OpenBao as the plugin being measured. Once warm, its login is a cache
//! lookup and a password comparison, with no storage call back to the
//! host, so its rate is about the most any plugin login can reach through
//! OpenBao on the machine: what OpenBao spends on the request, its calls
//! to the plugin, the token and the entity. The JWT and LDAP rows set their
//! goals' comparisons beside it, so a goal that no plugin could meet shows
//! as such.

use anyhow::Context;
use serde_json::json;
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};

use crate::bench_jwt::{check, version_of};
use crate::load::{self, OnError, Run};
use crate::plugins;

/// Where the floor is mounted.
pub const MOUNT: &str = "plugin-floor";

/// Mounts the userpass example at `auth/`[`MOUNT`] with `users` (name,
/// password).
pub fn mount(bao: &OpenBao, users: &[(String, String)]) -> anyhow::Result<()> {
    let binary = plugins::sdk_examples()
        .into_iter()
        .find(|b| b.target == "userpass")
        .context("the userpass example is in the build list")?
        .release_path();
    let version = version_of(&binary)?;
    bao.register_plugin(PluginKind::Auth, "example-userpass", &binary, &version);
    check(
        bao.enable_auth(MOUNT, "example-userpass", &version),
        "mount the userpass example",
    )?;
    for (user, password) in users {
        check(
            bao.write(
                &format!("auth/{MOUNT}/users/{user}"),
                json!({ "password": password }),
            ),
            "a userpass example user",
        )?;
    }
    Ok(())
}

/// `total` logins at `auth/<mount>/login/<user>` with `{"password": …}`,
/// users round-robin, from `concurrency` threads with keep-alive
/// connections: the floor's login, and the LDAP method's.
pub fn password_logins(
    addr: &str,
    mount: &str,
    users: &[(String, String)],
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Run> {
    let requests: Vec<(String, String)> = users
        .iter()
        .map(|(user, password)| {
            (
                format!("{addr}/v1/auth/{mount}/login/{user}"),
                json!({ "password": password }).to_string(),
            )
        })
        .collect();
    load::run(total, concurrency, OnError::Stop, |agent, i| {
        let (url, body) = &requests[i % requests.len()];
        load::call(agent, "POST", url, Some(body), None).map(drop)
    })
    .clean()
}
