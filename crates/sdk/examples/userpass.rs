//! An example auth method on the SDK's path framework: users with a
//! password and the token settings every auth method shares, an
//! unauthenticated `login/<name>`, and token renewal that re-checks the user.
//!
//! Paths: `users/<name>` (create, update, read, delete: `password`, the
//! `token_*` fields and their deprecated names), `users/` (list),
//! `login/<name>` (update: `password`).
//!
//! Logins read users through a cache, the pattern for anything a plugin
//! reads on every request: writes and deletes here drop their entry, and
//! the host's `InvalidateKey` drops the entries another node's writes
//! changed (a replicated cluster). A warm login then makes no storage call.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_plugin_sdk::backend::{BackendType, SpecialPaths, factory};
use vault_plugin_sdk::framework::token::{self, TokenParams};
use vault_plugin_sdk::framework::{
    Field, FieldData, Framework, JsonStorage, Path, constant_time_eq, pattern,
};
use vault_plugin_sdk::logical::{Alias, Auth, Error, Request, Response};

/// The users logins have read, by storage key.
#[derive(Default)]
struct Userpass {
    users: RwLock<HashMap<String, Arc<User>>>,
    /// Bumped by every forget, so a read that raced a write is not cached.
    forgets: AtomicU64,
}

impl Userpass {
    /// The user stored at `key`, from the cache when it holds it.
    async fn user(&self, req: &Request, key: &str) -> Result<Option<Arc<User>>, Error> {
        if let Some(user) = self.cached().get(key) {
            return Ok(Some(user.clone()));
        }
        let forgets = self.forgets.load(Ordering::Acquire);
        let Some(user) = req.storage.get_json::<User>(key).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        // A write meanwhile may have stored something newer than this read.
        if self.forgets.load(Ordering::Acquire) == forgets {
            users.insert(key.to_string(), user.clone());
        }
        Ok(Some(user))
    }

    fn cached(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<User>>> {
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, key: &str) {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        users.remove(key);
        self.forgets.fetch_add(1, Ordering::Release);
    }
}

/// Another node changed `key` (or it was rolled back): read it again.
async fn invalidate(backend: &Userpass, key: &str) {
    backend.forget(key);
}

#[derive(Serialize, Deserialize, Default)]
struct User {
    password: String,
    #[serde(flatten)]
    token: TokenParams,
}

fn user_key(name: &str) -> String {
    format!("users/{}", name.to_lowercase())
}

async fn user_exists(_: &Userpass, req: &Request, data: &FieldData) -> Result<bool, Error> {
    let name: String = data.get("name")?;
    Ok(req.storage.get(&user_key(&name)).await?.is_some())
}

async fn write_user(
    backend: &Userpass,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let mut user: User = req
        .storage
        .get_json(&user_key(&name))
        .await?
        .unwrap_or_default();
    if let Some(password) = data.get_ok::<String>("password")? {
        user.password = password;
    }
    if user.password.is_empty() {
        return Err(Error::invalid("missing password"));
    }
    user.token.parse(data)?;
    req.storage.put_json(&user_key(&name), &user).await?;
    backend.forget(&user_key(&name));
    Ok(None)
}

async fn read_user(
    _: &Userpass,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let Some(user) = req.storage.get_json::<User>(&user_key(&name)).await? else {
        return Ok(None);
    };
    let mut resp = Response::default();
    user.token.populate_data(&mut resp.data);
    Ok(Some(resp))
}

async fn delete_user(
    backend: &Userpass,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    req.storage.delete(&user_key(&name)).await?;
    backend.forget(&user_key(&name));
    Ok(None)
}

async fn list_users(_: &Userpass, req: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    let keys = req.storage.list("users/").await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

async fn login(
    backend: &Userpass,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let password: String = data.get("password")?;
    if password.is_empty() {
        return Err(Error::invalid("missing password"));
    }
    let user = backend.user(req, &user_key(&name)).await?;
    let Some(user) = user.filter(|u| constant_time_eq(u.password.as_bytes(), password.as_bytes()))
    else {
        return Err(Error::invalid("invalid username or password"));
    };
    let mut auth = Auth {
        display_name: name.clone(),
        alias: Some(Alias {
            name: name.clone(),
            ..Alias::default()
        }),
        ..Auth::default()
    };
    auth.metadata.insert("username".into(), name.clone());
    auth.internal_data.insert("username".into(), name.into());
    user.token.populate_auth(&mut auth);
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

/// A token is renewed only while its user exists, with the user's current
/// TTLs.
async fn renew(_: &Userpass, req: &Request) -> Result<Option<Response>, Error> {
    let Some(mut auth) = req.auth.clone() else {
        return Err(Error::internal("renew without an auth"));
    };
    let name = auth
        .internal_data
        .get("username")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let Some(user) = req.storage.get_json::<User>(&user_key(&name)).await? else {
        return Err(Error::invalid("user no longer exists"));
    };
    auth.lease.ttl = user.token.token_ttl;
    auth.lease.max_ttl = user.token.token_max_ttl;
    auth.period = user.token.token_period;
    Ok(Some(Response {
        auth: Some(auth),
        ..Response::default()
    }))
}

fn paths() -> Vec<Path<Userpass>> {
    let name = || pattern::generic_name("name");
    vec![
        Path::new(format!("users/{}", name()))
            .field(
                Field::string("name")
                    .description("The user's name.")
                    .required(),
            )
            .field(
                Field::string("password")
                    .description("The user's password.")
                    .sensitive(),
            )
            .fields(token::fields())
            .fields(token::deprecated_fields())
            .existence(user_exists)
            .write(write_user)
            .read(read_user)
            .delete(delete_user)
            .help(
                "Manage users.",
                "Users log in with a password and get tokens with these settings.",
            ),
        Path::new("users/?")
            .list(list_users)
            .help("List users.", "Lists the users' names."),
        Path::new(format!("login/{}", name()))
            .field(Field::string("name").description("The user's name."))
            .field(
                Field::string("password")
                    .description("The user's password.")
                    .sensitive(),
            )
            .update(login)
            .help("Log in.", "Log in with a user's password."),
    ]
}

fn main() -> ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::server::PluginInfo {
            name: "vault-plugin-example-userpass",
            version: env!("CARGO_PKG_VERSION"),
        },
        factory(|_config| async {
            Ok(Framework::new(BackendType::Auth, Userpass::default())
                .help("Log in with a user name and password.")
                .special_paths(SpecialPaths {
                    unauthenticated: vec!["login/*".into()],
                    ..SpecialPaths::default()
                })
                .paths(paths())
                .auth_renew(renew)
                .invalidate(invalidate)
                .build()?)
        }),
    )
}
