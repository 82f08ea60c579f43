//! go-plugin's AutoMTLS: each side makes a throwaway self-signed ECDSA P-521
//! certificate, and each trusts exactly the other's certificate, nothing else.
//!
//! The certificates are marked CA and used as end entities, which WebPKI
//! verification rightly refuses. So instead of chain building we pin: the
//! peer must present exactly the expected DER, and its handshake signature is
//! checked with aws-lc-rs (`ring` cannot verify P-521).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// About 30 years, as go-plugin's `262980 * time.Hour`.
const VALIDITY: Duration = Duration::from_secs(262_980 * 3600);

/// ALPN for gRPC: recent grpc-go refuses TLS connections without it.
const ALPN_H2: &[u8] = b"h2";

/// Setting up AutoMTLS failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("generating the plugin certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("PLUGIN_CLIENT_CERT is not a PEM certificate")]
    BadPeerCertificate,
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A certificate and its key, as made by go-plugin's `generateCert`.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// A fresh ECDSA P-521 self-signed certificate for `localhost`.
    pub fn generate() -> Result<Self, TlsSetupError> {
        use rcgen::{
            BasicConstraints, CertificateParams, DistinguishedName, DnType,
            ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
        };
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "localhost");
        name.push(DnType::OrganizationName, "HashiCorp");
        params.distinguished_name = name;
        params.subject_alt_names = vec![SanType::DnsName("localhost".try_into()?)];
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(30)).into();
        params.not_after = (now + VALIDITY).into();
        let mut serial = [0u8; 16];
        rustls::crypto::aws_lc_rs::default_provider()
            .secure_random
            .fill(&mut serial)
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        // Positive 128-bit serial, as Go's rand.Int(2^128).
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let cert = params.self_signed(&key)?;
        Ok(Identity {
            cert: cert.der().clone(),
            key: PrivateKeyDer::try_from(key.serialize_der())
                .map_err(|_| rcgen::Error::CouldNotParseKeyPair)?,
        })
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert.clone()]
    }
}

/// Parses the host's certificate from `PLUGIN_CLIENT_CERT` (PEM).
pub fn parse_pem_certificate(pem: &str) -> Result<CertificateDer<'static>, TlsSetupError> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| TlsSetupError::BadPeerCertificate)
}

/// The provider for everything here: aws-lc-rs, which verifies P-521.
///
/// Key exchange offers X25519 first: the host's TLS server (Go) answers the
/// default first share (the post-quantum hybrid) with a HelloRetryRequest,
/// an extra round trip on the first broker dial of every process, which
/// delays a relaunched plugin. The channel is a unix socket between two
/// processes of one machine.
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::aws_lc_rs::{default_provider, kx_group};
    Arc::new(CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..default_provider()
    })
}

/// Accepts exactly one certificate, as a server or as a client.
#[derive(Debug)]
pub struct PinnedCertVerifier {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
    no_hints: Vec<DistinguishedName>,
}

impl PinnedCertVerifier {
    pub fn new(pinned: CertificateDer<'static>, provider: &CryptoProvider) -> Self {
        PinnedCertVerifier {
            pinned,
            algorithms: provider.signature_verification_algorithms,
            no_hints: Vec::new(),
        }
    }

    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if presented.as_ref() == self.pinned.as_ref() {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PinnedCertVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: Go's client then offers its one certificate.
        &self.no_hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Serves as `me`, requiring the client to present exactly `peer`.
pub fn server_config(
    me: &Identity,
    peer: CertificateDer<'static>,
) -> Result<rustls::ServerConfig, TlsSetupError> {
    let provider = provider();
    let verifier = Arc::new(PinnedCertVerifier::new(peer, &provider));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(me.chain(), me.key.clone_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// Connects as `me`, requiring the server to present exactly `peer`.
pub fn client_config(
    me: &Identity,
    peer: CertificateDer<'static>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    let provider = provider();
    let verifier = Arc::new(PinnedCertVerifier::new(peer, &provider));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(me.chain(), me.key.clone_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// PEM-encodes a certificate, as hosts pass theirs in `PLUGIN_CLIENT_CERT`.
pub fn pem_encode(cert: &CertificateDer<'_>) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_p521_ca_for_localhost() {
        let id = Identity::generate().expect("generate");
        let pem = pem_encode(&id.cert);
        let parsed = parse_pem_certificate(&pem).expect("round trip");
        assert_eq!(parsed.as_ref(), id.cert.as_ref());
        // The P-521 OID (1.3.132.0.35) and the CA basic constraint are in the DER.
        let der = id.cert.as_ref();
        let p521_oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
        assert!(der.windows(p521_oid.len()).any(|w| w == p521_oid));
        assert!(der.windows(9).any(|w| w == b"localhost"));
        assert!(der.windows(9).any(|w| w == b"HashiCorp"));
    }

    #[test]
    fn pinned_verifier_refuses_any_other_certificate() {
        let a = Identity::generate().expect("a");
        let b = Identity::generate().expect("b");
        let v = PinnedCertVerifier::new(a.cert.clone(), &provider());
        assert!(v.check(&a.cert).is_ok());
        assert!(v.check(&b.cert).is_err());
        assert!(
            ServerCertVerifier::supported_verify_schemes(&v)
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
        );
    }
}
