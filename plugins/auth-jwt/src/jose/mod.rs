//! JOSE: algorithms, public keys and compact JWS, verified with aws-lc.
//!
//! Verification goes straight to aws-lc rather than through a JWT library:
//! keys are parsed once per key set (not once per login), ES512 is
//! supported, and the claims checks are Vault's own (in [`crate::claims`]).

pub mod alg;
pub mod jws;
pub mod key;

pub use alg::{Algorithm, KeyFamily};
pub use jws::{Jws, JwsError};
pub use key::{Jwk, KeyError, PublicKey};
