//! A small HTTPS GET/POST client for JWKS, discovery and token endpoints and
//! the providers' group APIs: rustls with either the operator's CA bundle or
//! the system's roots, one connection per request, bounded time and size.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// The largest document accepted; a JWKS or discovery document is a few KiB.
const MAX_BODY: usize = 1 << 20;
/// Redirects followed for one GET (Go's client follows ten).
const MAX_REDIRECTS: usize = 10;
/// How long one request may take, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    #[error("could not parse the CA certificates: {0}")]
    InvalidCa(String),
    #[error("{0}")]
    Connect(String),
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("{status} {reason}: {body}")]
    Status {
        status: u16,
        reason: String,
        body: String,
    },
    #[error("response larger than {MAX_BODY} bytes")]
    TooLarge,
    /// A 3xx answer, followed by [`Client::get`].
    #[error("redirected to {0}")]
    Redirect(String),
}

/// An HTTP(S) client that trusts one set of roots.
#[derive(Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
}

/// A successful answer: its body, and its `Link` headers (paginated APIs).
pub struct Reply {
    pub body: Bytes,
    pub links: Vec<String>,
}

/// A request body and its content type.
struct Body {
    content_type: &'static str,
    text: String,
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    path_and_query: String,
    authority: String,
}

impl Client {
    /// Trusts the certificates in `ca_pem`, or the system's roots when it is
    /// empty (as Go's `http.Client` does). With `allowed_names`, a server
    /// certificate is accepted when it is valid for any one of them instead
    /// of the URL's host (`override_allowed_server_names`).
    pub fn new(ca_pem: &str, allowed_names: &[String]) -> Result<Self, HttpError> {
        let mut roots = rustls::RootCertStore::empty();
        if ca_pem.trim().is_empty() {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        } else {
            let mut found = false;
            for block in x509_parser::pem::Pem::iter_from_buffer(ca_pem.as_bytes()) {
                let block = block.map_err(|e| HttpError::InvalidCa(e.to_string()))?;
                if block.label != "CERTIFICATE" {
                    continue;
                }
                roots
                    .add(CertificateDer::from(block.contents))
                    .map_err(|e| HttpError::InvalidCa(e.to_string()))?;
                found = true;
            }
            if !found {
                return Err(HttpError::InvalidCa("no certificates found".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::InvalidCa(e.to_string()))?;
        let tls = if allowed_names.is_empty() {
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| HttpError::InvalidCa(e.to_string()))?;
            let names = allowed_names
                .iter()
                .map(|n| {
                    ServerName::try_from(n.clone()).map_err(|_| HttpError::InvalidUrl(n.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AllowedNames { webpki, names }))
                .with_no_client_auth()
        };
        Ok(Client { tls: Arc::new(tls) })
    }

    pub async fn get(&self, url: &str) -> Result<Bytes, HttpError> {
        self.get_with(url, &[]).await
    }

    /// GET with extra headers (e.g. a bearer token).
    pub async fn get_with(
        &self,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<Bytes, HttpError> {
        Ok(self.send(url, "GET", None, headers).await?.body)
    }

    /// GET with extra headers, keeping the answer's `Link` headers.
    pub async fn get_reply(
        &self,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<Reply, HttpError> {
        self.send(url, "GET", None, headers).await
    }

    /// POSTs a form, with extra headers (e.g. basic auth).
    pub async fn post_form(
        &self,
        url: &str,
        form: &str,
        headers: &[(&str, String)],
    ) -> Result<Bytes, HttpError> {
        let body = Body {
            content_type: "application/x-www-form-urlencoded",
            text: form.to_string(),
        };
        Ok(self.send(url, "POST", Some(body), headers).await?.body)
    }

    /// POSTs a JSON document, with extra headers (e.g. a bearer token).
    pub async fn post_json(
        &self,
        url: &str,
        json: &str,
        headers: &[(&str, String)],
    ) -> Result<Bytes, HttpError> {
        let body = Body {
            content_type: "application/json",
            text: json.to_string(),
        };
        Ok(self.send(url, "POST", Some(body), headers).await?.body)
    }

    async fn send(
        &self,
        url: &str,
        method: &str,
        body: Option<Body>,
        headers: &[(&str, String)],
    ) -> Result<Reply, HttpError> {
        let follow = async {
            let mut url = url.to_string();
            for _ in 0..=MAX_REDIRECTS {
                let target = parse_url(&url)?;
                match self.exchange(&target, method, body.as_ref(), headers).await {
                    // Only GETs are followed, as Go's client does for the
                    // documents this plugin fetches.
                    Err(HttpError::Redirect(location)) if method == "GET" => {
                        url = resolve_location(&target, &location);
                    }
                    Err(HttpError::Redirect(location)) => {
                        return Err(HttpError::Connect(format!("redirected to {location}")));
                    }
                    other => return other,
                }
            }
            Err(HttpError::Connect(format!(
                "stopped after {MAX_REDIRECTS} redirects"
            )))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, follow)
            .await
            .map_err(|_| HttpError::Timeout(REQUEST_TIMEOUT))?
    }

    async fn exchange(
        &self,
        target: &Target,
        method: &str,
        body: Option<&Body>,
        headers: &[(&str, String)],
    ) -> Result<Reply, HttpError> {
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| HttpError::Connect(format!("dial tcp {}: {e}", target.authority)))?;
        let _ = tcp.set_nodelay(true);
        if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| HttpError::InvalidUrl(target.host.clone()))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::Connect(format!("tls: {e}")))?;
            exchange_on(TokioIo::new(tls), target, method, body, headers).await
        } else {
            exchange_on(TokioIo::new(tcp), target, method, body, headers).await
        }
    }
}

/// Verifies the chain as usual but checks the certificate against the
/// operator's list of names rather than the host dialled.
#[derive(Debug)]
struct AllowedNames {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    names: Vec<ServerName<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for AllowedNames {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let mut last = rustls::Error::General("no allowed server name".into());
        for name in &self.names {
            match self
                .webpki
                .verify_server_cert(end_entity, intermediates, name, ocsp, now)
            {
                Ok(ok) => return Ok(ok),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

async fn exchange_on<S>(
    io: S,
    target: &Target,
    method: &str,
    body: Option<&Body>,
    headers: &[(&str, String)],
) -> Result<Reply, HttpError>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    tokio::spawn(conn);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(&target.path_and_query)
        .header(hyper::header::HOST, &target.authority)
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "vault-plugin-auth-jwt");
    if let Some(body) = body {
        request = request.header(hyper::header::CONTENT_TYPE, body.content_type);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(
            body.map(|b| b.text.clone()).unwrap_or_default(),
        )))
        .map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    let status = response.status();
    if status.is_redirection()
        && let Some(location) = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|l| l.to_str().ok())
    {
        return Err(HttpError::Redirect(location.to_string()));
    }
    let links = response
        .headers()
        .get_all(hyper::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| HttpError::TooLarge)?
        .to_bytes();
    if !status.is_success() {
        return Err(HttpError::Status {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            body: String::from_utf8_lossy(&body).chars().take(512).collect(),
        });
    }
    Ok(Reply { body, links })
}

/// A `Location` made absolute against the URL that answered with it.
fn resolve_location(base: &Target, location: &str) -> String {
    if location.starts_with("https://") || location.starts_with("http://") {
        return location.to_string();
    }
    let scheme = if base.https { "https" } else { "http" };
    if location.starts_with('/') {
        return format!("{scheme}://{}{location}", base.authority);
    }
    let path = base.path_and_query.split('?').next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{}{dir}{location}", base.authority)
}

fn parse_url(url: &str) -> Result<Target, HttpError> {
    let invalid = || HttpError::InvalidUrl(url.to_string());
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid());
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    let (host, port) = split_host_port(authority).ok_or_else(invalid)?;
    let port = port.unwrap_or(if https { 443 } else { 80 });
    let path_and_query = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Ok(Target {
        https,
        host,
        port,
        path_and_query,
        authority: authority.to_string(),
    })
}

fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), Some(port.parse().ok()?))),
        None => Some((authority.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_resolve_against_the_answering_url() {
        let base = parse_url("https://idp.example:8443/a/b/keys?x=1").expect("parses");
        assert_eq!(
            resolve_location(&base, "https://other/k"),
            "https://other/k"
        );
        assert_eq!(
            resolve_location(&base, "/jwks"),
            "https://idp.example:8443/jwks"
        );
        assert_eq!(
            resolve_location(&base, "v2/keys"),
            "https://idp.example:8443/a/b/v2/keys"
        );
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = parse_url("https://127.0.0.1:8443/keys?x=1").expect("parses");
        assert!(t.https);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8443));
        assert_eq!(t.path_and_query, "/keys?x=1");
        let t = parse_url("http://example.com").expect("parses");
        assert_eq!((t.port, t.path_and_query.as_str()), (80, "/"));
        let t = parse_url("https://[::1]/a").expect("parses");
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        for bad in [
            "ftp://x/",
            "https://",
            "https://u@h/",
            "https://h:port/",
            "x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
