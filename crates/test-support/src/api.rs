//! A client for OpenBao's HTTP API as an operator calls it: a token, JSON
//! in and out, and every status answered rather than raised.

use std::time::Duration;

use serde_json::Value;

use crate::evidence;

/// Which catalog a plugin goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginKind {
    Secret,
    Auth,
}

impl PluginKind {
    fn as_str(self) -> &'static str {
        match self {
            PluginKind::Secret => "secret",
            PluginKind::Auth => "auth",
        }
    }
}

/// An HTTP answer from the server.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    /// The JSON body, a string for a body that is not JSON, or `Null` for
    /// an empty one.
    pub body: Value,
    /// Response headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl ApiResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `errors` list of an error answer, joined.
    pub fn errors(&self) -> String {
        self.body["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// Panics unless the status is 2xx; returns `self` for chaining.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        self
    }
}

/// One server's HTTP API, called with one token.
#[derive(Clone)]
pub struct Api {
    agent: ureq::Agent,
    addr: String,
    token: String,
}

impl Api {
    /// A client for the server at `addr` (e.g. `http://127.0.0.1:8200`).
    pub fn new(addr: impl Into<String>, token: impl Into<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Redirects are answers under test, and never followed off this machine.
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Api {
            agent,
            addr: addr.into(),
            token: token.into(),
        }
    }

    /// The server's address, e.g. `http://127.0.0.1:41234`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn root_token(&self) -> &str {
        &self.token
    }

    /// Calls the HTTP API (`path` without the `/v1/` prefix) with this
    /// client's token.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> ApiResponse {
        self.request_with_token(method, path, body, Some(&self.token))
    }

    /// Calls the HTTP API with the given token (or none).
    pub fn request_with_token(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> ApiResponse {
        self.request_with_headers(method, path, body, token, &[])
    }

    /// Calls the HTTP API with the given token and extra headers (such as
    /// `X-Vault-Index`, to read one's own writes on a standby).
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        call(
            &self.agent,
            &self.addr,
            Call {
                method,
                path,
                body,
                token,
                headers,
            },
        )
    }

    /// Reads `path` once this node has applied the write whose
    /// `X-Vault-Index` is `index` (any state with `None`): until then a
    /// standby answers 429 with Retry-After, and this retries, as the Go
    /// client does, for up to 10 s.
    ///
    /// # Panics
    /// If the node never catches up.
    pub fn read_after(&self, path: &str, index: Option<&str>) -> ApiResponse {
        let headers: Vec<(&str, &str)> = index.map(|i| ("X-Vault-Index", i)).into_iter().collect();
        crate::process::wait_for(Duration::from_secs(10), || {
            let resp = self.request_with_headers("GET", path, None, Some(&self.token), &headers);
            (resp.status != 429).then_some(resp)
        })
        .unwrap_or_else(|| panic!("{} never caught up with the write for {path}", self.addr))
    }

    pub fn read(&self, path: &str) -> ApiResponse {
        self.request("GET", path, None)
    }

    pub fn write(&self, path: &str, body: Value) -> ApiResponse {
        self.request("PUT", path, Some(body))
    }

    pub fn list(&self, path: &str) -> ApiResponse {
        self.request(
            "GET",
            &format!("{}?list=true", path.trim_end_matches('/')),
            None,
        )
    }

    pub fn delete(&self, path: &str) -> ApiResponse {
        self.request("DELETE", path, None)
    }

    /// Puts `command` (a file in the server's plugin directory) in the
    /// catalog by SHA-256, as `bao plugin register` does.
    pub fn register_in_catalog(
        &self,
        kind: PluginKind,
        name: &str,
        command: &str,
        sha256: &str,
        version: &str,
    ) -> ApiResponse {
        self.register_in_catalog_with_env(kind, name, command, sha256, version, &[])
    }

    /// [`Api::register_in_catalog`] with `env`: `KEY=value` pairs the
    /// server adds to the plugin's environment (`bao plugin register -env`).
    pub fn register_in_catalog_with_env(
        &self,
        kind: PluginKind,
        name: &str,
        command: &str,
        sha256: &str,
        version: &str,
        env: &[(&str, &str)],
    ) -> ApiResponse {
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.write(
            &format!("sys/plugins/catalog/{}/{name}", kind.as_str()),
            serde_json::json!({
                "sha256": sha256, "command": command, "version": version, "env": env,
            }),
        )
    }

    /// Mounts a registered secrets plugin at `path`.
    pub fn enable_secrets(&self, path: &str, plugin: &str, version: &str) -> ApiResponse {
        self.request(
            "POST",
            &format!("sys/mounts/{path}"),
            // OpenBao takes the version under `config`; at the top level
            // it is ignored and the newest registered version mounts.
            Some(serde_json::json!({ "type": plugin, "config": { "plugin_version": version } })),
        )
    }

    /// Enables a registered auth plugin at `auth/<path>`.
    pub fn enable_auth(&self, path: &str, plugin: &str, version: &str) -> ApiResponse {
        self.request(
            "POST",
            &format!("sys/auth/{path}"),
            // OpenBao takes the version under `config`; at the top level
            // it is ignored and the newest registered version mounts.
            Some(serde_json::json!({ "type": plugin, "config": { "plugin_version": version } })),
        )
    }
}

struct Call<'a> {
    method: &'a str,
    path: &'a str,
    body: Option<Value>,
    token: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
}

fn call(agent: &ureq::Agent, addr: &str, call: Call<'_>) -> ApiResponse {
    let url = format!("{addr}/v1/{}", call.path.trim_start_matches('/'));
    if let Some(body) = &call.body {
        evidence::note_secrets_in(body);
    }
    let (token, headers) = (call.token, call.headers);
    let result = match (call.method, call.body) {
        ("GET", _) => with_headers(agent.get(&url), token, headers).call(),
        ("DELETE", _) => with_headers(agent.delete(&url), token, headers).call(),
        ("PUT", Some(body)) => with_headers(agent.put(&url), token, headers).send_json(body),
        ("PUT", None) => with_headers(agent.put(&url), token, headers).send_empty(),
        ("POST", Some(body)) => with_headers(agent.post(&url), token, headers).send_json(body),
        ("POST", None) => with_headers(agent.post(&url), token, headers).send_empty(),
        (other, _) => panic!("unsupported method {other}"),
    };
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            let body = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            evidence::note_secrets_in(&body);
            ApiResponse {
                status,
                body,
                headers,
            }
        }
        Err(err) => ApiResponse {
            status: 0,
            body: Value::String(format!("request failed: {err}")),
            headers: Vec::new(),
        },
    }
}

fn with_headers<B>(
    mut request: ureq::RequestBuilder<B>,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> ureq::RequestBuilder<B> {
    if let Some(token) = token {
        request = request.header("X-Vault-Token", token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}
