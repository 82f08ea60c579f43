//! The JWS signature algorithms the plugin verifies, by their JOSE names.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, VerificationAlgorithm};

/// An asymmetric JWS algorithm. HMAC (`HS*`) and `none` are deliberately
/// absent: an auth method that verifies with public keys must never accept a
/// token "signed" with a shared secret or not signed at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

/// The family of key an algorithm needs; a key only verifies algorithms of
/// its own family, which is what stops algorithm confusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa,
    P256,
    P384,
    P521,
    Ed25519,
}

impl Algorithm {
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    pub fn family(self) -> KeyFamily {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::P256,
            Algorithm::ES384 => KeyFamily::P384,
            Algorithm::ES512 => KeyFamily::P521,
            Algorithm::EdDSA => KeyFamily::Ed25519,
        }
    }

    /// aws-lc's verification parameters. RSA keys under 2048 bits are
    /// refused (NIST has disallowed them since 2013).
    pub(crate) fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
        }
    }
}

impl KeyFamily {
    pub fn algorithms(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| a.family() == self)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Algorithm::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported signing algorithm: {0}")]
pub struct UnsupportedAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnsupportedAlgorithm(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_symmetric_algorithms_are_unknown() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
        }
        for name in ["HS256", "HS512", "none", "rs256", "", "ES256K"] {
            assert!(name.parse::<Algorithm>().is_err(), "{name}");
        }
    }
}
