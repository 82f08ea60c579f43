//! One LDAP connection: dialled from the config's URL list (first that
//! answers wins), with StartTLS or LDAPS, the connect timeout on the whole
//! dial and the request timeout on every operation.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{
    DerefAliases, Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry, SearchOptions,
};
use thiserror::Error;

use crate::config::Config;

#[derive(Debug, Error)]
pub enum LdapError {
    /// Every URL failed; one line per URL, as the reference lists them.
    #[error("{}", dial_message(.0))]
    Dial(Vec<String>),
    #[error("LDAP operation timed out after {0:?}")]
    Timeout(Duration),
    #[error("LDAP Result Code {rc}: {text}")]
    Result { rc: u32, text: String },
    #[error("{0}")]
    Transport(String),
}

fn dial_message(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let mut out = format!("{} {noun} occurred:", errors.len());
    for e in errors {
        out.push_str("\n\t* ");
        out.push_str(e);
    }
    out.push_str("\n\n");
    out
}

impl LdapError {
    /// The connection itself failed (rather than the server answering
    /// no): the connection must be dropped.
    pub fn is_transport(&self) -> bool {
        matches!(self, LdapError::Transport(_) | LdapError::Timeout(_))
    }

    /// A failure that says the connection was stale (closed under us),
    /// worth one retry on a fresh dial. A timeout is not: the server is
    /// slow or hung, and retrying would double the wait.
    pub fn is_stale(&self) -> bool {
        matches!(self, LdapError::Transport(_))
    }

    /// The server's result code, if it answered.
    pub fn result_code(&self) -> Option<u32> {
        match self {
            LdapError::Result { rc, .. } => Some(*rc),
            _ => None,
        }
    }
}

impl From<ldap3::LdapError> for LdapError {
    fn from(e: ldap3::LdapError) -> Self {
        match e {
            ldap3::LdapError::LdapResult { result } => LdapError::Result {
                rc: result.rc,
                text: if result.text.is_empty() {
                    result_name(result.rc).to_string()
                } else {
                    format!("{}: {}", result_name(result.rc), result.text)
                },
            },
            other => LdapError::Transport(other.to_string()),
        }
    }
}

fn result_name(rc: u32) -> &'static str {
    match rc {
        1 => "Operations Error",
        2 => "Protocol Error",
        3 => "Time Limit Exceeded",
        4 => "Size Limit Exceeded",
        7 => "Auth Method Not Supported",
        8 => "Strong Auth Required",
        32 => "No Such Object",
        34 => "Invalid DN Syntax",
        48 => "Inappropriate Authentication",
        49 => "Invalid Credentials",
        50 => "Insufficient Access Rights",
        51 => "Busy",
        52 => "Unavailable",
        53 => "Unwilling To Perform",
        _ => "LDAP error",
    }
}

/// Who a connection is bound as, so the pool can hand out one that needs no
/// new bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Never bound, or bound anonymously.
    Anonymous,
    /// The configured service account (`binddn`).
    Service,
    /// Some user that logged in.
    User,
}

/// A search's inputs.
pub struct Search<'a> {
    pub base: &'a str,
    pub scope: Scope,
    pub filter: &'a str,
    pub attrs: &'a [&'a str],
    pub size_limit: i32,
    /// Pages of this size when > 0.
    pub page_size: i32,
}

/// A live connection.
pub struct Connection {
    ldap: Ldap,
    /// When it was last returned to the pool.
    pub idle_since: std::time::Instant,
    pub identity: Identity,
    request_timeout: Duration,
    deref: DerefAliases,
}

/// How to dial a config's servers.
#[derive(Clone)]
pub struct Dialer {
    urls: Vec<String>,
    starttls: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    request_timeout: Duration,
    deref: DerefAliases,
}

fn seconds(secs: i64) -> Duration {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

impl Dialer {
    pub fn new(config: &Config, urls: &str) -> Result<Self, crate::tls::TlsError> {
        let urls: Vec<String> = urls.split(',').map(|u| u.trim().to_string()).collect();
        let needs_tls = config.starttls || urls.iter().any(|u| u.starts_with("ldaps://"));
        let tls = if needs_tls {
            Some(crate::tls::client_config(config)?)
        } else {
            None
        };
        Ok(Dialer {
            urls,
            starttls: config.starttls,
            tls,
            connect_timeout: seconds(config.connection_timeout),
            request_timeout: seconds(config.request_timeout),
            deref: match config.dereference_aliases.as_str() {
                "finding" => DerefAliases::Finding,
                "searching" => DerefAliases::Searching,
                "always" => DerefAliases::Always,
                _ => DerefAliases::Never,
            },
        })
    }

    /// Connects to the first URL that answers.
    pub async fn dial(&self) -> Result<Connection, LdapError> {
        let mut errors = Vec::new();
        for url in &self.urls {
            match self.dial_one(url).await {
                Ok(ldap) => {
                    if !errors.is_empty() {
                        tracing::debug!(errors = ?errors, "errors connecting to some hosts");
                    }
                    return Ok(Connection {
                        ldap,
                        idle_since: std::time::Instant::now(),
                        identity: Identity::Anonymous,
                        request_timeout: self.request_timeout,
                        deref: self.deref,
                    });
                }
                Err(e) => errors.push(format!("error connecting to host {url:?}: {e}")),
            }
        }
        Err(LdapError::Dial(errors))
    }

    async fn dial_one(&self, url: &str) -> Result<Ldap, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("error parsing url: {e}"))?;
        let scheme = parsed.scheme();
        if scheme != "ldap" && scheme != "ldaps" {
            return Err(format!(
                "invalid LDAP scheme in url {:?}",
                parsed.host_str().unwrap_or_default()
            ));
        }
        let mut settings = LdapConnSettings::new();
        if let Some(tls) = &self.tls {
            settings = settings.set_config(Arc::clone(tls));
        }
        if scheme == "ldap" && self.starttls {
            settings = settings.set_starttls(true);
        }
        let connect = LdapConnAsync::from_url_with_settings(settings, &parsed);
        let timed = async {
            if self.connect_timeout.is_zero() {
                Ok(connect.await)
            } else {
                tokio::time::timeout(self.connect_timeout, connect).await
            }
        };
        let (conn, ldap) = match timed.await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("timed out after {:?}", self.connect_timeout)),
        };
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection closed");
            }
        });
        Ok(ldap)
    }
}

impl Connection {
    /// Whether the server or network closed it.
    pub fn is_closed(&mut self) -> bool {
        self.ldap.is_closed()
    }

    async fn timed<T, F>(&self, op: F) -> Result<T, LdapError>
    where
        F: Future<Output = Result<T, ldap3::LdapError>>,
    {
        if self.request_timeout.is_zero() {
            return op.await.map_err(LdapError::from);
        }
        match tokio::time::timeout(self.request_timeout, op).await {
            Ok(result) => result.map_err(LdapError::from),
            Err(_) => Err(LdapError::Timeout(self.request_timeout)),
        }
    }

    /// A simple bind; an empty password makes it an unauthenticated bind,
    /// which callers must only allow on purpose.
    pub async fn bind(
        &mut self,
        dn: &str,
        password: &str,
        identity: Identity,
    ) -> Result<(), LdapError> {
        let mut ldap = self.ldap.clone();
        let result = self
            .timed(async { ldap.simple_bind(dn, password).await?.success() })
            .await;
        // A failed bind leaves the connection anonymous.
        self.identity = if result.is_ok() {
            identity
        } else {
            Identity::Anonymous
        };
        result.map(|_| ())
    }

    /// A search. A size-limit answer still returns the entries it carried,
    /// so callers can tell "not unique" from an error.
    pub async fn search(&mut self, search: &Search<'_>) -> Result<Vec<SearchEntry>, LdapError> {
        let mut ldap = self.ldap.clone();
        let options = SearchOptions::new()
            .deref(self.deref)
            .sizelimit(search.size_limit);
        let attrs: Vec<&str> = search.attrs.to_vec();
        self.timed(async move {
            ldap.with_search_options(options);
            let mut stream = if search.page_size > 0 {
                let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
                    Box::new(EntriesOnly::new()),
                    Box::new(PagedResults::new(search.page_size)),
                ];
                ldap.streaming_search_with(
                    adapters,
                    search.base,
                    search.scope,
                    search.filter,
                    attrs,
                )
                .await?
            } else {
                ldap.streaming_search(search.base, search.scope, search.filter, attrs)
                    .await?
            };
            let mut entries = Vec::new();
            while let Some(entry) = stream.next().await? {
                if !entry.is_ref() && !entry.is_intermediate() {
                    entries.push(SearchEntry::construct(entry));
                }
            }
            let result = stream.finish().await;
            if result.rc == 4 && !entries.is_empty() {
                return Ok(entries);
            }
            result.success()?;
            Ok(entries)
        })
        .await
    }

    /// Replaces one attribute's values (root rotation).
    pub async fn replace(
        &mut self,
        dn: &str,
        attr: &[u8],
        value: Vec<u8>,
    ) -> Result<(), LdapError> {
        let mut ldap = self.ldap.clone();
        let attr = attr.to_vec();
        self.timed(async move {
            ldap.modify(dn, vec![Mod::Replace(attr, HashSet::from([value]))])
                .await?
                .success()
        })
        .await
        .map(|_| ())
    }

    /// Several searches at once on this connection (LDAP multiplexes
    /// them), for tokenGroups' per-SID lookups.
    pub async fn search_many(
        &mut self,
        searches: &[Search<'_>],
    ) -> Vec<Result<Vec<SearchEntry>, LdapError>> {
        let futures = searches.iter().map(|s| {
            let mut twin = Connection {
                ldap: self.ldap.clone(),
                idle_since: self.idle_since,
                identity: self.identity,
                request_timeout: self.request_timeout,
                deref: self.deref,
            };
            async move { twin.search(s).await }
        });
        futures_util::future::join_all(futures).await
    }
}
