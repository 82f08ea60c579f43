//! What the host says when it starts the plugin: the magic cookie, the
//! protocol versions it offers, where to listen, and its certificate.

use std::path::PathBuf;

/// The environment variable and value Vault and OpenBao set for backend plugins.
pub const MAGIC_COOKIE_KEY: &str = "VAULT_BACKEND_PLUGIN";
pub const MAGIC_COOKIE_VALUE: &str = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";

/// The application protocol we speak: gRPC with AutoMTLS and multiplexing.
pub const PROTOCOL_VERSION: u32 = 5;

/// go-plugin's words for a binary started by hand (kept verbatim: operators
/// search for them).
pub const NOT_A_PROGRAM: &str = "This binary is a plugin. These are not meant to be executed directly.\n\
Please execute the program that consumes these plugins, which will\n\
load any plugins automatically\n";

/// Why the plugin cannot start under this host.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("{NOT_A_PROGRAM}")]
    NoCookie,
    #[error(
        "the host offers plugin protocol versions {offered:?}, but this plugin speaks only version {PROTOCOL_VERSION} (gRPC with AutoMTLS); upgrade the host or register an older plugin"
    )]
    UnsupportedVersions { offered: String },
    #[error(
        "PLUGIN_CLIENT_CERT is not set: this plugin requires AutoMTLS (protocol 5), which Vault and OpenBao enable by default"
    )]
    NoClientCert,
}

/// What the plugin takes from its environment at launch.
#[derive(Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    pub protocol_version: u32,
    pub client_cert_pem: String,
    pub socket_dir: Option<PathBuf>,
    pub socket_group: Option<String>,
    /// The host asked about go-plugin's multiplexed broker; we answer "no".
    pub multiplex_grpc_asked: bool,
}

impl LaunchConfig {
    /// Reads the launch settings through `get` (the process environment in
    /// production, a table in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, LaunchError> {
        if get(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(LaunchError::NoCookie);
        }
        let protocol_version = negotiate(get("PLUGIN_PROTOCOL_VERSIONS").as_deref())?;
        let client_cert_pem = get("PLUGIN_CLIENT_CERT")
            .filter(|c| !c.is_empty())
            .ok_or(LaunchError::NoClientCert)?;
        let non_empty = |key: &str| get(key).filter(|v| !v.is_empty());
        Ok(LaunchConfig {
            protocol_version,
            client_cert_pem,
            socket_dir: non_empty("PLUGIN_UNIX_SOCKET_DIR").map(PathBuf::from),
            socket_group: non_empty("PLUGIN_UNIX_SOCKET_GROUP"),
            multiplex_grpc_asked: non_empty("PLUGIN_MULTIPLEX_GRPC").is_some(),
        })
    }
}

/// Picks our version from the host's offer. A host that offers nothing gets
/// our version (go-plugin's behaviour); one that offers only others is refused
/// here rather than left to fail later in the handshake.
fn negotiate(offered: Option<&str>) -> Result<u32, LaunchError> {
    let Some(offered) = offered.filter(|o| !o.trim().is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    let speaks = offered
        .split(',')
        .any(|v| v.trim().parse::<u32>() == Ok(PROTOCOL_VERSION));
    if speaks {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(LaunchError::UnsupportedVersions {
            offered: offered.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn launch(vars: &[(&str, &str)]) -> Result<LaunchConfig, LaunchError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LaunchConfig::from_env(|k| env.get(k).cloned())
    }

    const COOKIE: (&str, &str) = (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE);
    const CERT: (&str, &str) = ("PLUGIN_CLIENT_CERT", "-----BEGIN CERTIFICATE-----");

    #[test]
    fn negotiation_table() {
        let cases: &[(Option<&str>, Result<u32, ()>)] = &[
            (None, Ok(5)),
            (Some(""), Ok(5)),
            (Some("5"), Ok(5)),
            (Some("4,5"), Ok(5)),
            (Some("5,6"), Ok(5)),
            (Some(" 4 , 5 "), Ok(5)),
            (Some("3,4"), Err(())),
            (Some("6"), Err(())),
            (Some("banana"), Err(())),
        ];
        for (offered, want) in cases {
            let got = negotiate(*offered).map_err(|_| ());
            assert_eq!(&got, want, "offered {offered:?}");
        }
    }

    #[test]
    fn refuses_without_the_backend_cookie() {
        assert_eq!(launch(&[CERT]), Err(LaunchError::NoCookie));
        // The database plugin cookie is not ours.
        assert_eq!(
            launch(&[("VAULT_DATABASE_PLUGIN", MAGIC_COOKIE_VALUE), CERT]),
            Err(LaunchError::NoCookie)
        );
        assert_eq!(
            launch(&[(MAGIC_COOKIE_KEY, "wrong"), CERT]),
            Err(LaunchError::NoCookie)
        );
    }

    #[test]
    fn requires_automtls() {
        assert_eq!(
            launch(&[COOKIE, ("PLUGIN_PROTOCOL_VERSIONS", "5")]),
            Err(LaunchError::NoClientCert)
        );
    }

    #[test]
    fn reads_socket_settings() {
        let cfg = launch(&[
            COOKIE,
            CERT,
            ("PLUGIN_UNIX_SOCKET_DIR", "/run/plugins"),
            ("PLUGIN_UNIX_SOCKET_GROUP", "vault"),
        ])
        .expect("valid launch");
        assert_eq!(cfg.socket_dir, Some(PathBuf::from("/run/plugins")));
        assert_eq!(cfg.socket_group.as_deref(), Some("vault"));
        assert!(!cfg.multiplex_grpc_asked);
    }
}
