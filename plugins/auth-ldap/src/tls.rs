//! TLS for LDAPS and StartTLS: the configured CA (or the system's roots),
//! the TLS version range, an optional client certificate, and verification
//! switched off only by `insecure_tls`.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use thiserror::Error;

use crate::config::Config;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("failed to decode PEM block in the certificate")]
    NoCertificate,
    #[error("failed to parse certificate {0}")]
    BadCertificate(String),
    #[error("no private key found")]
    NoKey,
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS versions below 1.2 are not supported (tls_max_version is {0})")]
    VersionTooLow(String),
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|_| TlsError::NoCertificate)?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        x509_parser::parse_x509_certificate(&block.contents)
            .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
        out.push(CertificateDer::from(block.contents));
    }
    if out.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(out)
}

/// Checks a CA bundle as the config write does.
pub fn validate_ca(pem: &str) -> Result<(), TlsError> {
    certificates(pem).map(|_| ())
}

/// A client certificate chain and its key.
pub fn client_identity(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = certificates(cert_pem)?;
    let key = x509_parser::pem::Pem::iter_from_buffer(key_pem.as_bytes())
        .filter_map(Result::ok)
        .find_map(|block| match block.label.as_str() {
            "PRIVATE KEY" => Some(PrivateKeyDer::Pkcs8(block.contents.into())),
            "RSA PRIVATE KEY" => Some(PrivateKeyDer::Pkcs1(block.contents.into())),
            "EC PRIVATE KEY" => Some(PrivateKeyDer::Sec1(block.contents.into())),
            _ => None,
        })
        .ok_or(TlsError::NoKey)?;
    // Checks the key fits the certificate's public key.
    rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)?;
    Ok((chain, key))
}

/// The rustls client config for a mount's config.
pub fn client_config(config: &Config) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    let min = config.tls_min_version.as_str();
    let max = config.tls_max_version.as_str();
    if min <= "tls12" && max >= "tls12" {
        versions.push(&rustls::version::TLS12);
    }
    if max >= "tls13" {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(TlsError::VersionTooLow(max.to_string()));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?;
    let builder = if config.insecure_tls {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if config.certificate.is_empty() {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        } else {
            for cert in certificates(&config.certificate)? {
                roots.add(cert)?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let tls = if config.client_tls_cert.is_empty() {
        builder.with_no_client_auth()
    } else {
        let (chain, key) = client_identity(&config.client_tls_cert, &config.client_tls_key)?;
        builder.with_client_auth_cert(chain, key)?
    };
    Ok(Arc::new(tls))
}

/// `insecure_tls`: any certificate is accepted; the handshake's signatures
/// are still checked so the session keys are at least bound to it.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
