//! Fixtures for the plugins' tests. Each starts the real thing from the
//! project's own files, on its own ports and temp dirs, and stops it on drop.
//!
//! - [`openbao::OpenBao`]: a real `bao server -dev` with a plugin directory,
//!   plus helpers to register, mount and call plugins as an operator would.
//! - [`cluster::OpenBaoCluster`]: real OpenBao nodes on integrated (raft)
//!   storage from `fixtures/openbao/node.hcl`, auto-unsealed; nodes can be
//!   killed and restarted on their data. One node is a persistent server.
//! - [`api::Api`]: OpenBao's HTTP API as an operator calls it.
//! - [`host::PluginHost`]: a strict in-process go-plugin host for what a
//!   real server cannot show (a wrong certificate, a broken handshake).
//! - [`binaries`]: the release plugin binaries under test.
//! - [`evidence`]: the secrets tests used and the servers' logs, for the
//!   suite's check that no secret is ever logged.
//! - [`jwt`]: real signing keys (RSA, RSA-PSS, ECDSA, Ed25519) and the
//!   tokens they sign, good and deliberately bad.
//! - [`oidc::OidcProvider`]: a local HTTPS OpenID provider (discovery, JWKS,
//!   authorization-code flow with PKCE) with a throwaway CA, and switches
//!   for its faults (down, hung, lying about its issuer).
//! - [`moto::Moto`]: a local AWS API emulator (moto) with an IAM/STS query
//!   client, and [`moto::HoldingProxy`] to stop a plugin between two AWS calls.
//! - [`samba_ad::SambaAd`]: a real Samba Active Directory domain controller
//!   (UPN binds, `tokenGroups`, nested groups) on the fixed ports 389 and
//!   636, one per machine at a time: tests that use it take turns.
//! - [`slapd::Slapd`]: a real OpenLDAP server with a small directory (users,
//!   nested and posix groups, AD-style logon names), StartTLS and LDAPS from
//!   a throwaway CA, and switches for its faults (stopped, frozen).

pub mod api;
pub mod binaries;
pub mod cluster;
pub mod directory;
pub mod evidence;
pub mod host;
pub mod hostile;
pub mod jwt;
pub mod moto;
pub mod oidc;
pub mod openbao;
pub mod process;
pub mod samba_ad;
pub mod slapd;

use std::path::PathBuf;

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    // This crate lives in <root>/crates/test-support.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}
