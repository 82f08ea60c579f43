//! A local OpenID provider over real HTTPS: discovery, JWKS, and the
//! authorization-code flow with PKCE, for tests of a JWT/OIDC auth plugin
//! that runs inside a real OpenBao server.
//!
//! Each [`OidcProvider`] makes a throwaway CA and a server certificate for
//! `127.0.0.1` and `localhost`, listens on a free loopback port, and serves on
//! its own thread and tokio runtime, so every method is blocking and a plain
//! `#[test]` can use it. Dropping it stops the server.
//!
//! Its faults are switches: [`OidcProvider::stop_listening`] (the server is
//! down: connections refused), [`OidcProvider::set_hang`] (it accepts but
//! never answers), [`OidcProvider::set_discovery_issuer`] (discovery names
//! another issuer), [`OidcProvider::set_keys`] (key rotation).
//!
//! ```no_run
//! use vault_plugin_test_support::oidc::OidcProvider;
//!
//! let idp = OidcProvider::start();
//! // Configure the plugin with idp.issuer() as oidc_discovery_url (or
//! // idp.jwks_url() as jwks_url) and idp.ca_pem() as its CA PEM, then:
//! let token = idp.key().sign(&serde_json::json!({
//!     "iss": idp.issuer(), "sub": "alice", "aud": "vault",
//!     "exp": vault_plugin_test_support::jwt::now() + 300,
//! }));
//! ```
//!
//! Endpoints: `GET /.well-known/openid-configuration`, `GET /keys`,
//! `GET /authorize` (a 302 to the redirect URI, or a `form_post` page),
//! `POST /token`, `GET`/`POST /userinfo`; a known path with another method is
//! a 405, anything else a 404.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::directory::Directory;
use crate::jwt::{self, Alg, SigningKey, b64};

/// How long the provider's ID tokens live.
const ID_TOKEN_TTL: i64 = 300;

/// Claims an ID token carries for the protocol, not about the user; the
/// userinfo endpoint leaves them out.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "auth_time",
    "azp",
    "jti",
];

/// Why [`OidcProvider::try_authorize`] refused an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    #[error("`{0}` is not this provider's authorization endpoint `{1}`")]
    WrongEndpoint(String, String),
    #[error("the authorization request has no `{0}` parameter")]
    Missing(&'static str),
    #[error("the authorization request repeats the `{0}` parameter")]
    Repeated(String),
    #[error("no client is registered: call set_client first")]
    NoClient,
    #[error("unknown client_id `{0}`")]
    UnknownClient(String),
    #[error("unsupported response_type `{0}` (expected `code`, `id_token` or `code id_token`)")]
    ResponseType(String),
    #[error("unsupported response_mode `{0}` (expected `query`, `fragment` or `form_post`)")]
    ResponseMode(String),
    #[error("scope `{0}` does not include `openid`")]
    NoOpenidScope(String),
    #[error("unsupported code_challenge_method `{0}` (expected `S256` or `plain`)")]
    ChallengeMethod(String),
    #[error("response_type `{0}` returns an ID token, which requires a nonce")]
    NonceRequired(String),
    #[error("no signing key is published")]
    NoKeys,
}

/// What the provider saw in an authorization request, and what it answered.
#[derive(Clone, Debug)]
pub struct AuthorizeResult {
    pub redirect_uri: String,
    pub state: String,
    /// The one-time code, or empty when `response_type` has no `code`.
    pub code: String,
    /// The ID token, when `response_type` includes `id_token` (implicit or
    /// hybrid flow); it carries the nonce, and `c_hash` with a code.
    pub id_token: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: String,
    pub response_type: String,
    pub response_mode: Option<String>,
    /// Every query parameter of the request, decoded.
    pub params: BTreeMap<String, String>,
}

impl AuthorizeResult {
    /// What the provider sends back to the redirect URI: `code` (if any),
    /// `id_token` (if any) and `state`.
    pub fn callback_params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        if !self.code.is_empty() {
            params.push(("code".to_owned(), self.code.clone()));
        }
        if let Some(id_token) = &self.id_token {
            params.push(("id_token".to_owned(), id_token.clone()));
        }
        params.push(("state".to_owned(), self.state.clone()));
        params
    }

    /// The response mode in effect: the requested one, or OAuth's default
    /// (`query` for `code`, `fragment` when an ID token is returned).
    pub fn effective_response_mode(&self) -> &str {
        match &self.response_mode {
            Some(mode) => mode,
            None if self.id_token.is_some() => "fragment",
            None => "query",
        }
    }

    /// Where a browser is sent: the redirect URI with the callback parameters
    /// in its query or fragment. (For `form_post` the browser POSTs
    /// [`AuthorizeResult::callback_params`] to `redirect_uri` instead.)
    pub fn redirect_url(&self) -> String {
        let encoded = form_encode(&self.callback_params());
        if self.effective_response_mode() == "fragment" {
            format!("{}#{encoded}", self.redirect_uri)
        } else if self.redirect_uri.contains('?') {
            format!("{}&{encoded}", self.redirect_uri)
        } else {
            format!("{}?{encoded}", self.redirect_uri)
        }
    }
}

/// A code the provider handed out, waiting to be redeemed once.
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

struct State {
    keys: Vec<SigningKey>,
    discovery_issuer: Option<String>,
    /// A bearer token discovery and the JWKS require (a Kubernetes API
    /// server's).
    required_bearer: Option<String>,
    client: Option<(String, String)>,
    id_token_claims: Map<String, Value>,
    codes: HashMap<String, Grant>,
    /// Access token -> the userinfo answer.
    access_tokens: HashMap<String, Value>,
    last_token_request: Option<BTreeMap<String, String>>,
}

struct Shared {
    issuer: String,
    directory: Directory,
    port: u16,
    state: Mutex<State>,
    hang: AtomicBool,
    jwks_requests: AtomicUsize,
    discovery_requests: AtomicUsize,
    token_requests: AtomicUsize,
    userinfo_requests: AtomicUsize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the server down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running accept loop: tell it to stop, then wait until it has.
struct Listening {
    stop: oneshot::Sender<()>,
    stopped: mpsc::Receiver<()>,
}

/// A local HTTPS OpenID provider; see the [module docs](self).
pub struct OidcProvider {
    shared: Arc<Shared>,
    ca_pem: String,
    acceptor: TlsAcceptor,
    runtime: tokio::runtime::Handle,
    listening: Mutex<Option<Listening>>,
    /// The plain-HTTP metadata server's, once started; it stops with the
    /// provider.
    metadata_listening: Mutex<Option<Listening>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OidcProvider {
    /// Starts a provider on `https://127.0.0.1:<free port>` with a fresh CA
    /// and one RS256 key, kid `k1`; no client is registered until
    /// [`OidcProvider::set_client`].
    ///
    /// # Panics
    /// If it cannot bind a loopback port or start its thread.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("bind a loopback port for the OIDC provider");
        let port = listener.local_addr().expect("bound address").port();
        let (ca_pem, tls_config) = tls_identity(port);
        let acceptor = TlsAcceptor::from(Arc::new(tls_config));

        let (handle_tx, handle_rx) = mpsc::channel();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("oidc-provider-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the OIDC provider");
                let _ = handle_tx.send(runtime.handle().clone());
                runtime.block_on(async {
                    let _ = shutdown_rx.await;
                });
                // Dropping the runtime drops every task: the listener and all
                // connections close before the thread ends.
            })
            .expect("spawn the OIDC provider thread");
        let runtime = handle_rx.recv().expect("the OIDC provider's runtime");

        let provider = OidcProvider {
            shared: Arc::new(Shared {
                issuer: format!("https://127.0.0.1:{port}"),
                directory: Directory::new(format!("https://127.0.0.1:{port}")),
                port,
                state: Mutex::new(State {
                    keys: vec![SigningKey::generate(Alg::RS256, "k1")],
                    discovery_issuer: None,
                    required_bearer: None,
                    client: None,
                    id_token_claims: default_id_token_claims(),
                    codes: HashMap::new(),
                    access_tokens: HashMap::new(),
                    last_token_request: None,
                }),
                hang: AtomicBool::new(false),
                jwks_requests: AtomicUsize::new(0),
                discovery_requests: AtomicUsize::new(0),
                token_requests: AtomicUsize::new(0),
                userinfo_requests: AtomicUsize::new(0),
            }),
            ca_pem,
            acceptor,
            runtime,
            listening: Mutex::new(None),
            metadata_listening: Mutex::new(None),
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        let listening = provider
            .listen(listener, Some(provider.acceptor.clone()))
            .expect("serve on the OIDC provider's port");
        *provider.listening() = Some(listening);
        provider
    }

    /// `https://127.0.0.1:<port>`, without a trailing slash. Discovery is at
    /// `issuer() + "/.well-known/openid-configuration"`.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The port the provider listens on (the same across stop and resume).
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The PEM of the CA that signed the server's certificate (whose SANs
    /// are `127.0.0.1` and `localhost`): what the plugin must trust.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// `issuer() + "/moved-keys"`: a 301 to [`OidcProvider::jwks_url`].
    pub fn moved_jwks_url(&self) -> String {
        format!("{}/moved-keys", self.issuer())
    }

    /// `issuer() + "/keys"`.
    pub fn jwks_url(&self) -> String {
        format!("{}/keys", self.shared.issuer)
    }

    /// The keys currently published in the JWKS.
    pub fn keys(&self) -> Vec<SigningKey> {
        self.shared.state().keys.clone()
    }

    /// Replaces the published JWKS (key rotation). The first key signs the
    /// ID tokens `/token` mints.
    pub fn set_keys(&self, keys: Vec<SigningKey>) {
        self.shared.state().keys = keys;
    }

    /// The first published key.
    ///
    /// # Panics
    /// If no key is published.
    pub fn key(&self) -> SigningKey {
        self.shared
            .state()
            .keys
            .first()
            .cloned()
            .expect("the OIDC provider publishes no keys (set_keys was given none)")
    }

    /// How many `GET /keys` were answered so far (not those held by
    /// [`OidcProvider::set_hang`]).
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// How many discovery documents were answered so far.
    pub fn discovery_requests(&self) -> usize {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// How many `POST /token` were answered so far, successful or not.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// How many userinfo requests were answered so far.
    pub fn userinfo_requests(&self) -> usize {
        self.shared.userinfo_requests.load(Ordering::SeqCst)
    }

    /// Closes the listener and every open connection, and returns once they
    /// are closed: new connections are refused, as from a server that is
    /// down. Does nothing if already stopped.
    pub fn stop_listening(&self) {
        let Some(listening) = self.listening().take() else {
            return;
        };
        let _ = listening.stop.send(());
        // The accept loop acknowledges after the listener and every
        // connection task are gone; it cannot take long.
        let _ = listening.stopped.recv_timeout(Duration::from_secs(10));
    }

    /// Listens again on the same port. Does nothing if listening.
    ///
    /// # Panics
    /// If the port was taken by someone else in the meantime.
    pub fn resume_listening(&self) {
        let mut listening = self.listening();
        if listening.is_some() {
            return;
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.shared.port));
        // std sets SO_REUSEADDR, so the closed connections' TIME_WAIT does not
        // block the bind; retry briefly all the same.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match std::net::TcpListener::bind(addr) {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("the OIDC provider cannot listen on {addr} again: {e}"),
            }
        };
        *listening = Some(
            self.listen(listener, Some(self.acceptor.clone()))
                .unwrap_or_else(|e| panic!("the OIDC provider cannot serve on {addr}: {e}")),
        );
    }

    /// Makes discovery name `issuer` instead of [`OidcProvider::issuer`]
    /// (`None` restores it), for issuer-mismatch tests. Endpoint URLs and the
    /// `iss` of minted tokens stay the real issuer.
    pub fn set_discovery_issuer(&self, issuer: Option<String>) {
        self.shared.state().discovery_issuer = issuer;
    }

    /// Makes discovery and the JWKS answer 401 unless the request carries
    /// `Authorization: Bearer <token>` (`None`: open again), as a
    /// Kubernetes API server serves its service account issuer.
    pub fn require_bearer(&self, token: Option<&str>) {
        self.shared.state().required_bearer = token.map(str::to_string);
    }

    /// Also serves plain HTTP on another loopback port, for Google's
    /// metadata server token endpoint (a VM reaches it without TLS);
    /// returns its `127.0.0.1:<port>`, what `GCE_METADATA_HOST` names. It
    /// stops with the provider.
    ///
    /// # Panics
    /// If it cannot bind a loopback port.
    pub fn serve_metadata(&self) -> String {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("bind a loopback port for the metadata server");
        let addr = listener.local_addr().expect("bound address");
        let listening = self
            .listen(listener, None)
            .expect("serve on the metadata server's port");
        *self
            .metadata_listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(listening);
        addr.to_string()
    }

    /// While `true`, connections are accepted and TLS completes, but no
    /// request is ever answered (a hung dependency); those held stay held
    /// until the client gives up, [`OidcProvider::stop_listening`], or drop.
    pub fn set_hang(&self, hang: bool) {
        self.shared.hang.store(hang, Ordering::SeqCst);
    }

    /// The group directories this server also plays (Microsoft Graph, Okta,
    /// Google Workspace), for `provider_config` tests.
    pub fn directory(&self) -> &Directory {
        &self.shared.directory
    }

    /// An access token for `userinfo` (what `/userinfo` answers with it), as
    /// if a code had been exchanged: what a client would send as Azure's
    /// `distributed_claim_access_token`.
    pub fn issue_access_token(&self, userinfo: Value) -> String {
        let token = random_token();
        crate::evidence::note_secret("access token", &token);
        self.shared
            .state()
            .access_tokens
            .insert(token.clone(), userinfo);
        token
    }

    /// Registers the one client the provider knows (any redirect URI).
    pub fn set_client(&self, client_id: &str, client_secret: &str) {
        self.shared.state().client = Some((client_id.to_owned(), client_secret.to_owned()));
    }

    /// The claims about the user in the ID tokens `/token` mints (default
    /// `{"sub": "test-subject"}`), replacing earlier ones. The provider adds
    /// `iss`, `aud` (the client id), `iat`, `exp` (+5 min), `nonce` (from the
    /// authorization request) and `at_hash`; a claim given here wins over
    /// the provider's, and a `null` removes it, so tests can mint expired,
    /// misaddressed or nonce-less tokens.
    ///
    /// # Panics
    /// If `claims` is not a JSON object.
    pub fn set_id_token_claims(&self, claims: Value) {
        let Value::Object(claims) = claims else {
            panic!("ID token claims must be a JSON object, got {claims}");
        };
        self.shared.state().id_token_claims = claims;
    }

    /// Plays the browser and the user on the plugin's `auth_url`: checks it
    /// points at this provider's `/authorize` with the registered client,
    /// records its parameters, and mints a one-time code bound to them.
    ///
    /// # Panics
    /// If the provider refuses the request; see [`OidcProvider::try_authorize`].
    #[track_caller]
    pub fn authorize(&self, auth_url: &str) -> AuthorizeResult {
        self.try_authorize(auth_url)
            .unwrap_or_else(|e| panic!("the OIDC provider refused {auth_url}: {e}"))
    }

    /// [`OidcProvider::authorize`], returning the refusal instead of panicking.
    pub fn try_authorize(&self, auth_url: &str) -> Result<AuthorizeResult, AuthorizeError> {
        authorize(&self.shared, auth_url)
    }

    /// The last `/token` POST's form fields. When the client authenticated
    /// with HTTP Basic, its decoded id and secret are added as `client_id`
    /// and `client_secret` (unless the form had them); `client_auth_method`
    /// says which method was used: `client_secret_basic`,
    /// `client_secret_post`, `none`, or `multiple`.
    pub fn last_token_request(&self) -> Option<BTreeMap<String, String>> {
        self.shared.state().last_token_request.clone()
    }

    fn listening(&self) -> MutexGuard<'_, Option<Listening>> {
        self.listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves on `listener` (already bound, so connections queue at once).
    /// With `acceptor`, TLS; without, plain HTTP (the metadata server).
    fn listen(
        &self,
        listener: std::net::TcpListener,
        acceptor: Option<TlsAcceptor>,
    ) -> std::io::Result<Listening> {
        listener.set_nonblocking(true)?;
        let listener = {
            let _runtime = self.runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stop_rx) = oneshot::channel();
        let (stopped_tx, stopped) = mpsc::channel();
        self.runtime.spawn(accept_loop(
            listener,
            acceptor,
            self.shared.clone(),
            stop_rx,
            stopped_tx,
        ));
        Ok(Listening { stop, stopped })
    }
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn default_id_token_claims() -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".to_owned(), json!("test-subject"));
    claims
}

/// A fresh CA, and a rustls config serving a certificate it signed for
/// `127.0.0.1` and `localhost`. The CA's name carries the port, so an error
/// from a client trusting another provider's CA says which.
fn tls_identity(port: u16) -> (String, rustls::ServerConfig) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    const RCGEN: &str = "rcgen makes the OIDC provider's certificates";
    let now = SystemTime::now();
    let not_before = now - Duration::from_secs(60);
    let not_after = now + Duration::from_secs(365 * 24 * 3600);

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect(RCGEN);
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("vault-plugin-test-support OIDC CA (port {port})"),
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before.into();
    ca.not_after = not_after.into();
    let ca_cert = ca.self_signed(&ca_key).expect(RCGEN);
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect(RCGEN);
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect(RCGEN);
    server.distinguished_name = rcgen::DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = not_before.into();
    server.not_after = not_after.into();
    let server_cert = server.signed_by(&server_key, &issuer).expect(RCGEN);

    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports the default TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key.into())
    .expect("rustls takes rcgen's certificate and key");
    // HTTP/1.1 only: a client offering h2 too (Go's pooled transport does)
    // settles on HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_cert.pem(), config)
}

/// Accepts until told to stop, then closes the listener and every
/// connection before acknowledging.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    stopped: mpsc::Sender<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    connections.spawn(serve_connection(tcp, acceptor.clone(), shared.clone()));
                }
                // Out of file descriptors, most likely: do not spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
    let _ = stopped.send(());
}

/// One connection: TLS with `acceptor`, else plain HTTP (the metadata
/// server, which answers nothing else).
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let plain = acceptor.is_none();
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        async move {
            Ok::<_, Infallible>(if plain {
                metadata(&shared, &request)
            } else {
                route(&shared, request).await
            })
        }
    });
    // hyper does HTTP/1.1 keep-alive, `Connection: close` and pipelining.
    let http = hyper::server::conn::http1::Builder::new();
    let _ = match acceptor {
        Some(acceptor) => {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            http.serve_connection(TokioIo::new(tls), service).await
        }
        None => http.serve_connection(TokioIo::new(tcp), service).await,
    };
}

/// Google's metadata server: only the default service account's token, and
/// only for requests marked `Metadata-Flavor: Google`, as the real one.
fn metadata(shared: &Shared, request: &Request<Incoming>) -> Reply {
    const TOKEN: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
    if request.uri().path() != TOKEN || request.method() != Method::GET {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    if request
        .headers()
        .get("metadata-flavor")
        .and_then(|v| v.to_str().ok())
        != Some("Google")
    {
        return text(
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        );
    }
    let answer = shared
        .directory
        .metadata_token(request.uri().query().unwrap_or_default());
    json_reply(answer.status, &answer.body)
}

type Reply = Response<Full<Bytes>>;

async fn route(shared: &Shared, request: Request<Incoming>) -> Reply {
    if shared.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return text(StatusCode::BAD_REQUEST, "unreadable request body"),
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let method = &parts.method;
    let path = parts.uri.path();
    let guarded = path == "/.well-known/openid-configuration" || path == "/keys";
    if guarded && let Some(required) = shared.state().required_bearer.clone() {
        let presented = authorization.and_then(|v| v.strip_prefix("Bearer "));
        if presented != Some(required.as_str()) {
            return text(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
    }
    let allowed: &[Method] = match path {
        "/.well-known/openid-configuration" if method == Method::GET => {
            shared.discovery_requests.fetch_add(1, Ordering::SeqCst);
            return json_reply(StatusCode::OK, &discovery(shared));
        }
        "/keys" if method == Method::GET => {
            shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
            let keys: Vec<Value> = shared.state().keys.iter().map(SigningKey::jwk).collect();
            return json_reply(StatusCode::OK, &json!({ "keys": keys }));
        }
        // A JWKS that moved: relative redirect to the real one, as a CDN
        // or a load balancer might answer.
        "/moved-keys" if method == Method::GET => {
            let mut reply = Response::new(Full::new(Bytes::new()));
            *reply.status_mut() = StatusCode::MOVED_PERMANENTLY;
            reply
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/keys"));
            return reply;
        }
        "/authorize" if method == Method::GET => {
            let query = parts.uri.query().unwrap_or_default();
            let url = format!("{}/authorize?{query}", shared.issuer);
            return match authorize(shared, &url) {
                Ok(result) => authorize_reply(&result),
                Err(e) => text(StatusCode::BAD_REQUEST, &e.to_string()),
            };
        }
        "/token" if method == Method::POST => {
            shared.token_requests.fetch_add(1, Ordering::SeqCst);
            return token(shared, authorization, &body);
        }
        "/userinfo" if method == Method::GET || method == Method::POST => {
            shared.userinfo_requests.fetch_add(1, Ordering::SeqCst);
            return userinfo(shared, authorization);
        }
        "/.well-known/openid-configuration" | "/keys" | "/authorize" => &[Method::GET],
        "/token" => &[Method::POST],
        "/userinfo" => &[Method::GET, Method::POST],
        path => {
            let issued = authorization
                .and_then(|value| value.split_once(' '))
                .is_some_and(|(_, token)| shared.state().access_tokens.contains_key(token.trim()));
            let query = parts.uri.query().unwrap_or_default();
            return match shared.directory.route(
                method.as_str(),
                path,
                query,
                authorization,
                &body,
                issued,
            ) {
                Some(answer) => {
                    let mut reply = json_reply(answer.status, &answer.body);
                    if let Some(link) = answer.link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                        reply.headers_mut().insert(header::LINK, link);
                    }
                    reply
                }
                None => text(StatusCode::NOT_FOUND, "not found"),
            };
        }
    };
    let mut reply = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if let Ok(allow) = HeaderValue::from_str(&allow.join(", ")) {
        reply.headers_mut().insert(header::ALLOW, allow);
    }
    reply
}

fn discovery(shared: &Shared) -> Value {
    let state = shared.state();
    let base = &shared.issuer;
    let mut algs: Vec<&str> = Vec::new();
    for key in &state.keys {
        if !algs.contains(&key.alg().name()) {
            algs.push(key.alg().name());
        }
    }
    if algs.is_empty() {
        // The member is required; RS256 is the one every provider must offer.
        algs.push(Alg::RS256.name());
    }
    json!({
        "issuer": state.discovery_issuer.as_deref().unwrap_or(base),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/keys"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "response_types_supported": ["code", "id_token", "code id_token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "nonce", "at_hash", "c_hash",
            "email", "email_verified", "name", "preferred_username", "groups",
        ],
    })
}

fn authorize(shared: &Shared, auth_url: &str) -> Result<AuthorizeResult, AuthorizeError> {
    let endpoint = format!("{}/authorize", shared.issuer);
    let localhost = format!("https://localhost:{}/authorize", shared.port);
    let url = auth_url.split_once('#').map_or(auth_url, |(url, _)| url);
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    if base != endpoint && base != localhost {
        return Err(AuthorizeError::WrongEndpoint(auth_url.to_owned(), endpoint));
    }
    let mut params = BTreeMap::new();
    for (name, value) in form_decode(query) {
        if params.contains_key(&name) {
            return Err(AuthorizeError::Repeated(name));
        }
        params.insert(name, value);
    }
    let required = |name: &'static str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or(AuthorizeError::Missing(name))
    };
    let client_id = required("client_id")?;
    let redirect_uri = required("redirect_uri")?;
    let response_type = required("response_type")?;
    let scope = required("scope")?;
    let state = required("state")?;
    let nonce = params.get("nonce").cloned();
    let code_challenge = params.get("code_challenge").cloned();
    let code_challenge_method = params.get("code_challenge_method").cloned();
    let response_mode = params.get("response_mode").cloned();

    let mut types: Vec<&str> = response_type.split(' ').collect();
    types.sort_unstable();
    let (wants_code, wants_id_token) = match types.as_slice() {
        ["code"] => (true, false),
        ["id_token"] => (false, true),
        ["code", "id_token"] => (true, true),
        _ => return Err(AuthorizeError::ResponseType(response_type)),
    };
    if let Some(mode) = &response_mode
        && !["query", "fragment", "form_post"].contains(&mode.as_str())
    {
        return Err(AuthorizeError::ResponseMode(mode.clone()));
    }
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(AuthorizeError::NoOpenidScope(scope));
    }
    match (&code_challenge, &code_challenge_method) {
        (None, Some(_)) => return Err(AuthorizeError::Missing("code_challenge")),
        (_, Some(method)) if method != "S256" && method != "plain" => {
            return Err(AuthorizeError::ChallengeMethod(method.clone()));
        }
        _ => {}
    }
    if wants_id_token && nonce.is_none() {
        return Err(AuthorizeError::NonceRequired(response_type));
    }

    let (code, key, extra) = {
        let mut st = shared.state();
        match &st.client {
            None => return Err(AuthorizeError::NoClient),
            Some((id, _)) if *id != client_id => {
                return Err(AuthorizeError::UnknownClient(client_id));
            }
            Some(_) => {}
        }
        let code = if wants_code {
            let code = random_token();
            st.codes.insert(
                code.clone(),
                Grant {
                    client_id: client_id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    nonce: nonce.clone(),
                    code_challenge: code_challenge.clone(),
                    code_challenge_method: code_challenge_method.clone(),
                },
            );
            code
        } else {
            String::new()
        };
        (code, st.keys.first().cloned(), st.id_token_claims.clone())
    };
    let id_token = if wants_id_token {
        let key = key.ok_or(AuthorizeError::NoKeys)?;
        let mut hashes = Vec::new();
        if wants_code {
            hashes.push(("c_hash", jwt::at_hash(key.alg(), &code)));
        }
        let claims = id_token_claims(shared, &client_id, nonce.as_deref(), &hashes, extra);
        Some(key.sign(&claims))
    } else {
        None
    };
    Ok(AuthorizeResult {
        redirect_uri,
        state,
        code,
        id_token,
        nonce,
        code_challenge,
        code_challenge_method,
        scope,
        response_type,
        response_mode,
        params,
    })
}

fn authorize_reply(result: &AuthorizeResult) -> Reply {
    if result.effective_response_mode() == "form_post" {
        let inputs: String = result
            .callback_params()
            .iter()
            .map(|(name, value)| {
                format!(
                    r#"<input type="hidden" name="{}" value="{}">"#,
                    html_escape(name),
                    html_escape(value)
                )
            })
            .collect();
        let page = format!(
            "<!DOCTYPE html><html><body onload=\"document.forms[0].submit()\">\
             <form method=\"post\" action=\"{}\">{inputs}</form></body></html>",
            html_escape(&result.redirect_uri)
        );
        let mut reply = Response::new(Full::new(Bytes::from(page)));
        reply.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return reply;
    }
    match HeaderValue::from_str(&result.redirect_url()) {
        Ok(location) => {
            let mut reply = Response::new(Full::new(Bytes::new()));
            *reply.status_mut() = StatusCode::FOUND;
            reply.headers_mut().insert(header::LOCATION, location);
            reply
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "redirect_uri is not a valid URL"),
    }
}

/// The claims of an ID token for `client_id`: the protocol's, then the
/// test's `extra` over them (`null` removing one).
fn id_token_claims(
    shared: &Shared,
    client_id: &str,
    nonce: Option<&str>,
    hashes: &[(&str, String)],
    extra: Map<String, Value>,
) -> Value {
    let now = jwt::now();
    let mut claims = Map::new();
    claims.insert("iss".to_owned(), json!(shared.issuer));
    claims.insert("aud".to_owned(), json!(client_id));
    claims.insert("iat".to_owned(), json!(now));
    claims.insert("exp".to_owned(), json!(now + ID_TOKEN_TTL));
    if let Some(nonce) = nonce {
        claims.insert("nonce".to_owned(), json!(nonce));
    }
    for (name, value) in hashes {
        claims.insert((*name).to_owned(), json!(value));
    }
    for (name, value) in extra {
        if value.is_null() {
            claims.remove(&name);
        } else {
            claims.insert(name, value);
        }
    }
    Value::Object(claims)
}

/// An OAuth error answer (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    let mut reply = json_reply(
        status,
        &json!({"error": error, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        reply.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="oidc-provider""#),
        );
    }
    reply
}

fn token(shared: &Shared, authorization: Option<&str>, body: &[u8]) -> Reply {
    let body = String::from_utf8_lossy(body);
    let mut form = BTreeMap::new();
    let mut repeated = None;
    for (name, value) in form_decode(&body) {
        if form.contains_key(&name) {
            repeated = Some(name.clone());
        }
        form.insert(name, value);
    }

    // Client authentication: HTTP Basic (RFC 6749 §2.3.1, each half
    // form-encoded) or client_id/client_secret in the form, not both.
    let basic = match authorization {
        Some(value) => match parse_basic(value) {
            Some(credentials) => Some(credentials),
            None => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "the Authorization header is not HTTP Basic credentials",
                );
            }
        },
        None => None,
    };
    let posted = form.contains_key("client_secret");
    let method = match (&basic, posted) {
        (Some(_), true) => "multiple",
        (Some(_), false) => "client_secret_basic",
        (None, true) => "client_secret_post",
        (None, false) => "none",
    };
    let mut recorded = form.clone();
    if let Some((id, secret)) = &basic {
        recorded.entry("client_id".to_owned()).or_insert(id.clone());
        recorded
            .entry("client_secret".to_owned())
            .or_insert(secret.clone());
    }
    recorded.insert("client_auth_method".to_owned(), method.to_owned());
    shared.state().last_token_request = Some(recorded);

    if let Some(name) = repeated {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("parameter `{name}` is repeated"),
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type `{other}` is not supported"),
            );
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "no grant_type"),
    }
    let (client_id, client_secret) = match (basic, posted) {
        (Some(_), true) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the client authenticated with more than one method",
            );
        }
        (Some((id, secret)), false) => {
            if form.get("client_id").is_some_and(|form_id| *form_id != id) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client_id in the form differs from the Basic credentials",
                );
            }
            (id, secret)
        }
        (None, true) => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
        (None, false) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "no client authentication",
            );
        }
    };
    let Some(code) = form.get("code") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "no code");
    };

    let (key, nonce, extra) = {
        let mut st = shared.state();
        if st.client.as_ref() != Some(&(client_id.clone(), client_secret)) {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong secret",
            );
        }
        let Some(grant) = st.codes.get(code) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown or already redeemed code",
            );
        };
        if grant.client_id != client_id {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code was issued to another client",
            );
        }
        if form.get("redirect_uri") != Some(&grant.redirect_uri) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "redirect_uri differs from the authorization request's",
            );
        }
        if let Err(reason) = check_pkce(grant, form.get("code_verifier").map(String::as_str)) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason);
        }
        let Some(key) = st.keys.first().cloned() else {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "no signing key is published",
            );
        };
        // Redeemed: the code is gone, so a second use is an invalid_grant.
        let nonce = st.codes.remove(code).and_then(|grant| grant.nonce);
        (key, nonce, st.id_token_claims.clone())
    };
    let access_token = random_token();
    let hashes = [("at_hash", jwt::at_hash(key.alg(), &access_token))];
    let claims = id_token_claims(shared, &client_id, nonce.as_deref(), &hashes, extra);
    let id_token = key.sign(&claims);
    let mut user = claims;
    if let Value::Object(map) = &mut user {
        map.retain(|name, _| !PROTOCOL_CLAIMS.contains(&name.as_str()));
    }
    shared
        .state()
        .access_tokens
        .insert(access_token.clone(), user);

    let mut reply = json_reply(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_TTL,
            "id_token": id_token,
        }),
    );
    reply
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// RFC 7636 §4.6. A code without a challenge ignores any verifier.
fn check_pkce(grant: &Grant, verifier: Option<&str>) -> Result<(), &'static str> {
    let Some(challenge) = &grant.code_challenge else {
        return Ok(());
    };
    let Some(verifier) = verifier else {
        return Err("the authorization request had a code_challenge; code_verifier is missing");
    };
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err("code_verifier must be 43 to 128 unreserved characters");
    }
    let derived = match grant.code_challenge_method.as_deref() {
        Some("S256") => b64(&Sha256::digest(verifier.as_bytes())),
        _ => verifier.to_owned(),
    };
    if derived == *challenge {
        Ok(())
    } else {
        Err("code_verifier does not match the code_challenge")
    }
}

fn userinfo(shared: &Shared, authorization: Option<&str>) -> Reply {
    let token = authorization.and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let claims = token.and_then(|token| shared.state().access_tokens.get(token).cloned());
    match claims {
        Some(claims) => json_reply(StatusCode::OK, &claims),
        None => {
            let mut reply = json_reply(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_token", "error_description": "unknown access token"}),
            );
            reply.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
            reply
        }
    }
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id), percent_decode(secret)))
}

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

fn text(status: StatusCode, body: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// 32 random bytes, base64url: codes and access tokens.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("aws-lc-rs's random generator");
    b64(&bytes)
}

/// `application/x-www-form-urlencoded` pairs (also a URL query).
pub(crate) fn form_decode(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Encodes pairs as a query: unreserved characters as they are, every
/// other byte as `%XX` (so also valid as a form body).
pub(crate) fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Form decoding: `+` is a space, `%XX` a byte; a stray `%` stays as it is.
pub(crate) fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: &u8) -> Option<u8> {
    char::from(*digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn html_escape(input: &str) -> String {
    input
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_round_trips() {
        let pairs = vec![
            (
                "redirect_uri".to_owned(),
                "http://localhost:8250/oidc/callback?x=1&y=2".to_owned(),
            ),
            ("scope".to_owned(), "openid email".to_owned()),
            ("weird".to_owned(), "ü%+=#".to_owned()),
        ];
        assert_eq!(form_decode(&form_encode(&pairs)), pairs);
        assert_eq!(
            form_decode("a=1+2&b=%7e&c&d=%zz&e=%4"),
            vec![
                ("a".to_owned(), "1 2".to_owned()),
                ("b".to_owned(), "~".to_owned()),
                ("c".to_owned(), String::new()),
                ("d".to_owned(), "%zz".to_owned()),
                ("e".to_owned(), "%4".to_owned()),
            ]
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my+client:s%3Acret"));
        assert_eq!(
            parse_basic(&header),
            Some(("my client".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
    }

    #[test]
    fn pkce_rfc7636_example() {
        // RFC 7636 Appendix B.
        let grant = Grant {
            client_id: String::new(),
            redirect_uri: String::new(),
            nonce: None,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
            code_challenge_method: Some("S256".to_owned()),
        };
        assert_eq!(
            check_pkce(&grant, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
            Ok(())
        );
        assert!(check_pkce(&grant, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx")).is_err());
        assert!(check_pkce(&grant, None).is_err());
        assert!(check_pkce(&grant, Some("short")).is_err());
    }
}
