//! A backend made of declared paths (Go's `framework.Backend`): routes each
//! request to its path and operation, parses the fields, dispatches renew,
//! revoke and rollback, answers help, and implements [`crate::backend::Backend`].

use std::sync::Arc;
use std::time::Duration;

use regex_lite::Regex;

use super::field_data::FieldData;
use super::handler::{self, HandlerResult, HookFn, InvalidateFn, RequestFn, RollbackFn};
use super::path::Path;
use super::pattern::{self, PatternError};
use super::secret::{SECRET_TYPE_KEY, SecretType};
use super::{help, wal};
use crate::backend::{Backend, BackendType, Existence, SpecialPaths};
use crate::logical::{Error, Operation, Request, Response};

/// How old a write-ahead-log entry must be before the rollback undoes it,
/// unless the backend sets its own (Go's default).
pub const DEFAULT_WAL_ROLLBACK_MIN_AGE: Duration = Duration::from_secs(10 * 60);

/// The named captures of a matched path, in pattern order.
type Captures = Vec<(String, String)>;

pub(crate) struct CompiledPath<B> {
    pub regex: Regex,
    pub path: Path<B>,
}

/// A backend built from [`Path`]s around the plugin's own state `B`.
///
/// ```
/// use vault_plugin_sdk::backend::BackendType;
/// use vault_plugin_sdk::framework::{Field, FieldData, Framework, Path};
/// use vault_plugin_sdk::logical::{Error, Request, Response};
///
/// struct Echo;
///
/// async fn echo(_: &Echo, _: &Request, data: &FieldData) -> Result<Option<Response>, Error> {
///     let text: String = data.get("text")?;
///     Ok(Some(Response::with_data(serde_json::json!({ "text": text }))))
/// }
///
/// let backend = Framework::new(BackendType::Secrets, Echo)
///     .help("Echoes its input.")
///     .path(Path::new("echo").field(Field::string("text")).update(echo))
///     .build()
///     .expect("the patterns compile");
/// ```
pub struct Framework<B> {
    state: Arc<B>,
    kind: BackendType,
    help: String,
    paths: Vec<CompiledPath<B>>,
    /// The first pattern that did not compile, reported by `build`.
    bad_pattern: Option<PatternError>,
    special: SpecialPaths,
    secrets: Vec<SecretType<B>>,
    auth_renew: Option<handler::RequestHook<B>>,
    periodic: Option<handler::RequestHook<B>>,
    wal_rollback: Option<handler::Rollback<B>>,
    wal_min_age: Duration,
    clean: Option<handler::Hook<B>>,
    invalidate: Option<handler::Invalidate<B>>,
}

impl<B: Send + Sync + 'static> Framework<B> {
    /// A backend of kind `kind` whose handlers get `&state`.
    pub fn new(kind: BackendType, state: B) -> Self {
        Framework {
            state: Arc::new(state),
            kind,
            help: String::new(),
            paths: Vec::new(),
            bad_pattern: None,
            special: SpecialPaths::default(),
            secrets: Vec::new(),
            auth_renew: None,
            periodic: None,
            wal_rollback: None,
            wal_min_age: DEFAULT_WAL_ROLLBACK_MIN_AGE,
            clean: None,
            invalidate: None,
        }
    }

    /// The backend's help text (`path-help` on the mount itself).
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = text.into();
        self
    }

    /// Adds a path. Paths are matched in the order they are added; the
    /// first whose pattern matches the whole request path wins. A pattern
    /// that does not compile is reported by [`Framework::build`].
    pub fn path(mut self, path: Path<B>) -> Self {
        match pattern::compile(&path.pattern) {
            Ok(regex) => self.paths.push(CompiledPath { regex, path }),
            Err(err) => {
                self.bad_pattern.get_or_insert(err);
            }
        }
        self
    }

    /// Adds several paths, in order.
    pub fn paths(mut self, paths: impl IntoIterator<Item = Path<B>>) -> Self {
        for path in paths {
            self = self.path(path);
        }
        self
    }

    /// Paths the host treats specially (unauthenticated `login`, root-only…).
    pub fn special_paths(mut self, special: SpecialPaths) -> Self {
        self.special = special;
        self
    }

    /// A kind of leased secret this backend issues, with its renew and
    /// revoke handlers.
    pub fn secret(mut self, secret: SecretType<B>) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Renews a token this auth method issued: `req.auth` holds it.
    pub fn auth_renew<H: for<'a> RequestFn<'a, B>>(mut self, renew: H) -> Self {
        self.auth_renew = Some(handler::request_hook(renew));
        self
    }

    /// Housekeeping the host triggers with its periodic rollback request
    /// (every minute, and on unmount).
    pub fn periodic<H: for<'a> RequestFn<'a, B>>(mut self, periodic: H) -> Self {
        self.periodic = Some(handler::request_hook(periodic));
        self
    }

    /// Undoes a write-ahead-log entry older than `min_age` (see [`wal`]).
    pub fn wal_rollback<H: for<'a> RollbackFn<'a, B>>(
        mut self,
        rollback: H,
        min_age: Duration,
    ) -> Self {
        self.wal_rollback = Some(handler::rollback(rollback));
        self.wal_min_age = min_age;
        self
    }

    /// Runs when the mount goes away, before background tasks are stopped.
    pub fn clean<H: for<'a> HookFn<'a, B>>(mut self, clean: H) -> Self {
        self.clean = Some(handler::hook(clean));
        self
    }

    /// Runs with each storage key another node changed.
    pub fn invalidate<H: for<'a> InvalidateFn<'a, B>>(mut self, invalidate: H) -> Self {
        self.invalidate = Some(handler::invalidate(invalidate));
        self
    }

    /// Reports a path pattern that did not compile (a bug in the plugin:
    /// that path would never match).
    pub fn build(self) -> Result<Self, PatternError> {
        match self.bad_pattern {
            Some(err) => Err(err),
            None => Ok(self),
        }
    }

    /// The plugin's state.
    pub fn state(&self) -> &B {
        &self.state
    }

    pub(crate) fn compiled_paths(&self) -> &[CompiledPath<B>] {
        &self.paths
    }

    pub(crate) fn backend_help(&self) -> &str {
        &self.help
    }

    /// The first path matching `path`, with its captures.
    fn route(&self, path: &str) -> Option<(&Path<B>, Captures)> {
        self.paths.iter().find_map(|compiled| {
            let caps = compiled.regex.captures(path)?;
            let captures = compiled
                .regex
                .capture_names()
                .flatten()
                .filter_map(|name| Some((name.to_string(), caps.name(name)?.as_str().to_string())))
                .collect();
            Some((&compiled.path, captures))
        })
    }

    /// The request's data with the URL's captures on top (the URL wins),
    /// and the names of body values the URL replaced.
    fn field_data(path: &Path<B>, req: &Request, captures: Captures) -> (FieldData, Vec<String>) {
        let mut raw = req.data.clone();
        let mut replaced = Vec::new();
        for (name, value) in captures {
            let previous = raw.insert(name.clone(), serde_json::Value::String(value));
            if previous.is_some_and(|v| !v.is_null()) {
                replaced.push(name);
            }
        }
        (FieldData::new(raw, path.fields.clone()), replaced)
    }

    /// Vault's warnings about input the path did not use.
    fn input_warnings(path: &Path<B>, req: &Request, replaced: &[String], resp: &mut Response) {
        if !path.takes_arbitrary_input {
            let mut ignored: Vec<&str> = req
                .data
                .keys()
                .filter(|k| !path.fields.iter().any(|f| f.name == k.as_str()))
                .map(String::as_str)
                .collect();
            ignored.sort_unstable();
            if !ignored.is_empty() {
                resp.warnings.push(format!(
                    "Endpoint ignored these unrecognized parameters: [{}]",
                    ignored.join(" ")
                ));
            }
        }
        if !replaced.is_empty() {
            resp.warnings.push(format!(
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [{}]",
                replaced.join(" ")
            ));
        }
    }

    async fn handle_path(&self, req: &Request) -> HandlerResult {
        let Some((path, captures)) = self.route(&req.path) else {
            return Err(Error::UnsupportedPath);
        };
        if req.operation == Operation::Help {
            return Ok(Some(help::path_help(
                self,
                path,
                &req.path,
                response_prefix(req),
            )));
        }
        let Some(entry) = path.operation(&req.operation) else {
            return Err(Error::UnsupportedOperation);
        };
        let (data, replaced) = Self::field_data(path, req, captures);
        if let Err(err) = data.validate() {
            // Where an existence check ran first, Vault reports its
            // validation error as it is; elsewhere with this prefix.
            let checked = path.existence.is_some()
                && matches!(req.operation, Operation::Create | Operation::Update);
            return Err(if checked {
                err
            } else {
                Error::invalid(format!("Field validation failed: {err}"))
            });
        }
        let mut response = (entry.handler)(&self.state, req, &data).await?;
        if response.is_none() {
            // Go drops these warnings when a handler answers nothing (204),
            // so a misspelt field goes unnoticed; ours answer 200 with them.
            let mut warned = Response::default();
            Self::input_warnings(path, req, &replaced, &mut warned);
            if !warned.warnings.is_empty() {
                return Ok(Some(warned));
            }
        }
        if let Some(resp) = response.as_mut() {
            Self::input_warnings(path, req, &replaced, resp);
            // A secret written to a path never comes back from it.
            for field in path.fields.iter().filter(|f| f.sensitive) {
                resp.data.remove(field.name);
            }
            self.complete_secret(resp);
        }
        Ok(response)
    }

    /// Settles a leased secret's renewability and default TTL by its type:
    /// a type without a renew handler is never renewable; otherwise the
    /// handler's choice stands (Go's `resp.Secret.Renewable = false`).
    fn complete_secret(&self, resp: &mut Response) {
        let Some(secret) = resp.secret.as_mut() else {
            return;
        };
        let Some(kind) = secret
            .internal_data
            .get(SECRET_TYPE_KEY)
            .and_then(|v| v.as_str())
        else {
            return;
        };
        if let Some(ty) = self.secrets.iter().find(|s| s.type_name == kind) {
            secret.lease.renewable &= ty.renew.is_some();
            if secret.lease.ttl.is_zero() {
                secret.lease.ttl = ty.default_ttl;
            }
        }
    }

    async fn handle_renew_revoke(&self, req: &Request) -> HandlerResult {
        if req.operation == Operation::Renew && req.auth.is_some() {
            let Some(renew) = &self.auth_renew else {
                return Err(Error::invalid("this auth type doesn't support renew"));
            };
            return renew(&self.state, req).await;
        }
        if let Some(secret) = &req.secret {
            let kind = secret
                .internal_data
                .get(SECRET_TYPE_KEY)
                .and_then(|v| v.as_str());
            let Some(ty) = self.secrets.iter().find(|s| Some(s.type_name) == kind) else {
                return Err(Error::internal("secret is unsupported by this backend"));
            };
            let handler = match req.operation {
                Operation::Renew => ty.renew.as_ref(),
                _ => ty.revoke.as_ref(),
            };
            let Some(handler) = handler else {
                return Err(Error::UnsupportedOperation);
            };
            let mut response = handler(&self.state, req).await?;
            if let Some(resp) = response.as_mut() {
                self.complete_secret(resp);
            }
            return Ok(response);
        }
        Err(Error::internal("request has no secret"))
    }

    async fn handle_rollback(&self, req: &Request) -> HandlerResult {
        let mut failures = Vec::new();
        if let Some(periodic) = &self.periodic
            && let Err(err) = periodic(&self.state, req).await
        {
            failures.push(err.to_string());
        }
        if let Some(rollback) = &self.wal_rollback {
            // On unmount the host asks for everything to be undone now.
            let min_age = if req.data.contains_key("immediate") {
                Duration::ZERO
            } else {
                self.wal_min_age
            };
            // As in Go, entries that failed to roll back are an error
            // response (the host retries next minute), not a failure.
            if let Err(err) = wal::roll_back(min_age, rollback, &self.state, req).await {
                if failures.is_empty() {
                    return Err(Error::invalid(err.to_string()));
                }
                failures.push(err.to_string());
            }
        }
        if failures.is_empty() {
            Ok(None)
        } else {
            Err(Error::internal(failures.join("; ")))
        }
    }
}

/// The prefix the host asks operation ids to carry (the mount's type).
fn response_prefix(req: &Request) -> &str {
    req.data
        .get("requestResponsePrefix")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

#[crate::async_trait]
impl<B: Send + Sync + 'static> Backend for Framework<B> {
    fn backend_type(&self) -> BackendType {
        self.kind
    }

    fn special_paths(&self) -> SpecialPaths {
        self.special.clone()
    }

    async fn handle_request(&self, req: Request) -> Result<Option<Response>, Error> {
        match req.operation {
            Operation::Renew | Operation::Revoke => self.handle_renew_revoke(&req).await,
            Operation::Rollback => self.handle_rollback(&req).await,
            Operation::Help if req.path.is_empty() => {
                Ok(Some(help::root_help(self, response_prefix(&req))))
            }
            _ => self.handle_path(&req).await,
        }
    }

    async fn existence_check(&self, req: Request) -> Result<Existence, Error> {
        let Some((path, captures)) = self.route(&req.path) else {
            return Err(Error::UnsupportedPath);
        };
        let Some(check) = &path.existence else {
            return Ok(Existence::NotChecked);
        };
        let (data, _) = Self::field_data(path, &req, captures);
        data.validate()?;
        Ok(if check(&self.state, &req, &data).await? {
            Existence::Exists
        } else {
            Existence::Missing
        })
    }

    async fn cleanup(&self) {
        if let Some(clean) = &self.clean {
            clean(&self.state).await;
        }
    }

    async fn invalidate_key(&self, key: &str) {
        if let Some(invalidate) = &self.invalidate {
            invalidate(&self.state, key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::secret_response;

    struct Nothing;

    async fn ok(_: &Nothing, _: &Request, _: &FieldData) -> HandlerResult {
        Ok(None)
    }

    #[test]
    fn a_bad_pattern_is_reported_by_build_and_good_paths_route_without_it() {
        let bad = Framework::new(BackendType::Secrets, Nothing)
            .path(Path::new("a").read(ok))
            .path(Path::new("b/(?P<name").read(ok))
            .build();
        assert!(bad.is_err());
        let unbuilt = Framework::new(BackendType::Secrets, Nothing).path(Path::new("a/?").read(ok));
        assert!(
            unbuilt.route("a/").is_some(),
            "paths route even if build() is never called"
        );
        assert!(unbuilt.route("b").is_none());
    }

    async fn renew(_: &Nothing, _: &Request) -> HandlerResult {
        Ok(None)
    }

    #[test]
    fn a_secret_is_renewable_only_if_its_type_renews_and_its_handler_allows() {
        let framework = Framework::new(BackendType::Secrets, Nothing)
            .secret(SecretType::new("renews").renew(renew))
            .secret(SecretType::new("expires"));
        let settle = |kind: &str, handler_opts_out: bool| {
            let mut resp = secret_response(kind, serde_json::json!({}), serde_json::json!({}));
            if handler_opts_out && let Some(secret) = resp.secret.as_mut() {
                secret.lease.renewable = false;
            }
            framework.complete_secret(&mut resp);
            resp.secret.map(|s| s.lease.renewable)
        };
        assert_eq!(settle("renews", false), Some(true));
        assert_eq!(
            settle("renews", true),
            Some(false),
            "the handler's choice stands"
        );
        assert_eq!(settle("expires", false), Some(false));
    }
}
