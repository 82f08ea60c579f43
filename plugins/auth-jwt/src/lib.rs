//! JWT/OIDC auth for Vault and OpenBao, a drop-in for vault-plugin-auth-jwt.

pub mod http;
pub mod jose;
pub mod jwks;
