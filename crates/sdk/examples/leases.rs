//! An example secrets engine on the SDK's path framework: roles with
//! create-vs-update by existence check, leased credentials with renew and
//! revoke, and a write-ahead log that undoes a half-made credential.
//!
//! The "external system" whose resources it creates is a directory given
//! as the mount option `state_dir`: each credential is a file there, made
//! when issued and removed on revoke or rollback, so tests can see it.
//!
//! Paths: `roles/<name>` (create, update, read, delete), `roles/` (list),
//! `creds/<name>` (read issues a credential; update with `fail=true` stops
//! half-way, after the file is made, to show the rollback), `tidy` (read:
//! how often the periodic function ran), `info` (a raw text response) and
//! `docs` (a redirect).
//!
//! With the mount option `heartbeat_ms`, a background task writes a counter
//! to `<state_dir>/heartbeat` at that interval until the mount is cleaned up.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vault_plugin_sdk::backend::{BackendType, factory};
use vault_plugin_sdk::framework::{
    DEFAULT_WAL_ROLLBACK_MIN_AGE, Field, FieldData, Framework, JsonStorage, Path, SecretType,
    pattern, secret_response, wal,
};
use vault_plugin_sdk::logical::{Error, Operation, Request, Response};

const CREDENTIAL: &str = "credential";
const WAL_CREDENTIAL: &str = "credential";

struct Leases {
    state_dir: PathBuf,
    /// Roles read for issuing, kept until a write here or an invalidation
    /// from another node says they changed.
    roles: RwLock<HashMap<String, Role>>,
}

impl Leases {
    async fn role(&self, req: &Request, name: &str) -> Result<Option<Role>, Error> {
        if let Some(role) = self
            .roles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return Ok(Some(role.clone()));
        }
        let role: Option<Role> = req.storage.get_json(&role_key(name)).await?;
        if let Some(role) = &role {
            self.roles
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name.to_string(), role.clone());
        }
        Ok(role)
    }

    fn forget(&self, name: &str) {
        self.roles
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

/// A role changed on another node: drop the cached copy.
async fn invalidate(backend: &Leases, key: &str) {
    if let Some(name) = key.strip_prefix("roles/") {
        backend.forget(name);
    }
}

#[derive(Clone, Serialize, Deserialize, Default)]
struct Role {
    ttl: u64,
    max_ttl: u64,
    prefix: String,
    password: String,
    written_as: String,
}

fn role_key(name: &str) -> String {
    format!("roles/{name}")
}

async fn role_exists(_: &Leases, req: &Request, data: &FieldData) -> Result<bool, Error> {
    let name: String = data.get("name")?;
    Ok(req.storage.get(&role_key(&name)).await?.is_some())
}

async fn write_role(
    _: &Leases,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let mut role: Role = req
        .storage
        .get_json(&role_key(&name))
        .await?
        .unwrap_or_default();
    if req.operation == Operation::Create {
        role.prefix = data.get("prefix")?;
        if role.prefix.is_empty() {
            return Err(Error::invalid("missing prefix"));
        }
    } else if let Some(prefix) = data.get_ok("prefix")? {
        role.prefix = prefix;
    }
    if let Some(ttl) = data.get_ok::<Duration>("ttl")? {
        role.ttl = ttl.as_secs();
    }
    if let Some(max) = data.get_ok::<Duration>("max_ttl")? {
        role.max_ttl = max.as_secs();
    }
    if let Some(password) = data.get_ok("password")? {
        role.password = password;
    }
    role.written_as = req.operation.as_str().to_string();
    req.storage.put_json(&role_key(&name), &role).await?;
    Ok(None)
}

async fn read_role(_: &Leases, req: &Request, data: &FieldData) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let Some(role) = req.storage.get_json::<Role>(&role_key(&name)).await? else {
        return Ok(None);
    };
    // `password` is sensitive: the framework drops it from this response
    // even though the handler puts it there.
    Ok(Some(Response::with_data(json!({
        "ttl": role.ttl,
        "max_ttl": role.max_ttl,
        "prefix": role.prefix,
        "password": role.password,
        "written_as": role.written_as,
    }))))
}

async fn delete_role(
    _: &Leases,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    req.storage.delete(&role_key(&name)).await?;
    Ok(None)
}

async fn list_roles(_: &Leases, req: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    let keys = req.storage.list("roles/").await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

fn role_fields() -> Vec<Field> {
    vec![
        Field::string("name")
            .description("The role's name.")
            .required(),
        Field::string("prefix")
            .description("Prefix of the credentials' file names.")
            .required(),
        Field::duration("ttl").description("Lease TTL of issued credentials."),
        Field::duration("max_ttl").description("Longest a credential's lease may be renewed to."),
        Field::string("password")
            .description("A secret the role keeps; never read back.")
            .sensitive(),
    ]
}

async fn issue(
    backend: &Leases,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let Some(role) = backend.role(req, &name).await? else {
        return Err(Error::invalid(format!("unknown role {name:?}")));
    };
    let fail: bool = data.get("fail")?;
    let id = format!(
        "{}-{}",
        role.prefix,
        std::process::id() as u128 * 1_000_000 + nanos()
    );
    let file = backend.state_dir.join(&id);
    // Step 1: record how to undo step 2, before doing it.
    let wal_id = wal::put(
        req.storage.as_ref(),
        WAL_CREDENTIAL,
        &json!({ "file": file }),
    )
    .await?;
    // Step 2: make the resource in the external system.
    std::fs::write(&file, b"credential").map_err(|e| Error::internal(e.to_string()))?;
    if fail {
        return Err(Error::internal(
            "failed after creating the credential (injected)",
        ));
    }
    // Step 3: done; nothing to undo any more.
    wal::delete(req.storage.as_ref(), &wal_id).await?;
    let mut resp = secret_response(
        CREDENTIAL,
        json!({ "id": id }),
        json!({ "file": file, "role": name }),
    );
    if let Some(secret) = resp.secret.as_mut() {
        secret.lease.ttl = Duration::from_secs(role.ttl);
        secret.lease.max_ttl = Duration::from_secs(role.max_ttl);
    }
    Ok(Some(resp))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn file_of(req: &Request) -> Result<PathBuf, Error> {
    req.secret
        .as_ref()
        .and_then(|s| s.internal_data.get("file"))
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| Error::internal("the lease does not name its credential"))
}

async fn renew(_: &Leases, req: &Request) -> Result<Option<Response>, Error> {
    let Some(secret) = req.secret.clone() else {
        return Err(Error::internal("renew without a lease"));
    };
    let role: Option<Role> = match secret.internal_data.get("role").and_then(Value::as_str) {
        Some(name) => req.storage.get_json(&role_key(name)).await?,
        None => None,
    };
    let mut secret = secret;
    if let Some(role) = role {
        secret.lease.ttl = Duration::from_secs(role.ttl);
        secret.lease.max_ttl = Duration::from_secs(role.max_ttl);
    }
    Ok(Some(Response {
        secret: Some(secret),
        ..Response::default()
    }))
}

async fn revoke(_: &Leases, req: &Request) -> Result<Option<Response>, Error> {
    let file = file_of(req)?;
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::internal(e.to_string())),
    }
}

async fn roll_back(_: &Leases, _: &Request, kind: &str, data: &Value) -> Result<(), Error> {
    if kind != WAL_CREDENTIAL {
        return Err(Error::internal(format!(
            "unknown write-ahead log kind {kind:?}"
        )));
    }
    let Some(file) = data.get("file").and_then(Value::as_str) else {
        return Ok(());
    };
    match std::fs::remove_file(file) {
        Ok(()) => {
            tracing::info!(file, "rolled back a half-made credential");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::internal(e.to_string())),
    }
}

const TIDY_KEY: &str = "tidy/runs";

/// The periodic function: housekeeping on the host's rollback tick.
async fn tidy(_: &Leases, req: &Request) -> Result<Option<Response>, Error> {
    let runs: u64 = req.storage.get_json(TIDY_KEY).await?.unwrap_or(0);
    req.storage.put_json(TIDY_KEY, &(runs + 1)).await?;
    Ok(None)
}

async fn read_tidy(_: &Leases, req: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    let runs: u64 = req.storage.get_json(TIDY_KEY).await?.unwrap_or(0);
    Ok(Some(Response::with_data(json!({ "runs": runs }))))
}

async fn info(_: &Leases, _: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    Ok(Some(Response::raw(
        200,
        "text/plain; charset=utf-8",
        b"leases example\n",
    )))
}

async fn docs(_: &Leases, _: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    Ok(Some(Response::redirect("https://openbao.org/docs/")))
}

async fn heartbeat(file: PathBuf, every: Duration) {
    // Written aside and renamed into place, so a reader never sees a
    // half-written count.
    let staging = file.with_extension("tmp");
    let mut beats = 0u64;
    loop {
        beats += 1;
        let written = std::fs::write(&staging, beats.to_string())
            .and_then(|()| std::fs::rename(&staging, &file));
        if let Err(err) = written {
            tracing::warn!(error = %err, "heartbeat not written");
        }
        tokio::time::sleep(every).await;
    }
}

fn paths() -> Vec<Path<Leases>> {
    let name = || pattern::generic_name("name");
    vec![
        Path::new(format!("roles/{}", name()))
            .fields(role_fields())
            .existence(role_exists)
            .write(write_role)
            .read(read_role)
            .delete(delete_role)
            .help(
                "Manage roles.",
                "A role says how credentials are made: file prefix and lease TTLs.",
            ),
        Path::new("roles/?")
            .list(list_roles)
            .help("List roles.", "Lists the roles' names."),
        Path::new(format!("creds/{}", name()))
            .field(Field::string("name").description("The role to issue from."))
            .field(
                Field::bool("fail")
                    .description("Stop half-way, after the file is made (for tests)."),
            )
            .read(issue)
            .update(issue)
            .help(
                "Issue a credential.",
                "Issues a leased credential from a role.",
            ),
        Path::new("tidy")
            .read(read_tidy)
            .help("Housekeeping.", "How often the periodic function ran."),
        Path::new("info")
            .read(info)
            .help("About.", "A plain-text description (a raw response)."),
        Path::new("docs")
            .read(docs)
            .help("Documentation.", "Redirects to the documentation."),
    ]
}

fn main() -> ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::server::PluginInfo {
            name: "vault-plugin-example-leases",
            version: env!("CARGO_PKG_VERSION"),
        },
        factory(|config| async move {
            let state_dir = PathBuf::from(
                config
                    .config
                    .get("state_dir")
                    .cloned()
                    .unwrap_or_else(|| std::env::temp_dir().to_string_lossy().into_owned()),
            );
            let min_age = match config.config.get("wal_min_age").map(|s| s.parse::<u64>()) {
                Some(Ok(secs)) => Duration::from_secs(secs),
                Some(Err(_)) => return Err(Error::invalid("wal_min_age: expected whole seconds")),
                None => DEFAULT_WAL_ROLLBACK_MIN_AGE,
            };
            if let Some(ms) = config.config.get("heartbeat_ms") {
                let ms: u64 = ms
                    .parse()
                    .map_err(|_| Error::invalid("heartbeat_ms: expected whole milliseconds"))?;
                config.tasks.spawn(heartbeat(
                    state_dir.join("heartbeat"),
                    Duration::from_millis(ms),
                ));
            }
            Ok(Framework::new(
                BackendType::Secrets,
                Leases {
                    state_dir,
                    roles: RwLock::default(),
                },
            )
            .help("Issues leased credentials as files in a directory.")
            .paths(paths())
            .secret(SecretType::new(CREDENTIAL).renew(renew).revoke(revoke))
            .wal_rollback(roll_back, min_age)
            .periodic(tidy)
            .invalidate(invalidate)
            .build()?)
        }),
    )
}
