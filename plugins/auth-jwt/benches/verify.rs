//! A JWT login's CPU cost on one core, without OpenBao: parse, RS256
//! signature check and the role's claim checks (`login::verify_signature` +
//! `login::check_claims`, what `auth/<mount>/login` runs), against aws-lc's
//! bare RS256 verify of the same token (no parsing, no claims), so the ratio
//! is our own overhead. One thread, a current-thread runtime.
//!
//! ```sh
//! cargo bench -p vault-plugin-auth-jwt --bench verify -- --seconds 2
//! ```
//!
//! Prints `name value` lines (`cargo xtask bench` reads them):
//! `verify_and_claims_per_sec`, `raw_rs256_verify_per_sec`.
//!
//! A bench target rather than code in `xtask`, because `cargo xtask` runs in
//! the dev profile and this must measure what ships (the release profile).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use vault_plugin_auth_jwt::backend::resolve;
use vault_plugin_auth_jwt::config::{Config, Resolved};
use vault_plugin_auth_jwt::login::{check_claims, verify_signature};
use vault_plugin_auth_jwt::role::Role;
use vault_plugin_test_support::jwt::{Alg, SigningKey, now};

type Result<T> = std::result::Result<T, String>;

/// Operations between clock reads.
const BATCH: u64 = 64;
/// Each side runs this many slices, alternating, so both see the same
/// machine (other processes, frequency changes).
const ROUNDS: u32 = 4;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench verify: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    // `cargo bench` passes `--bench`; only `--seconds N` is ours.
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or("--seconds takes a number")?,
        None => 2.0,
    };
    let slice = Duration::from_secs_f64(seconds / f64::from(ROUNDS));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;

    let key = SigningKey::generate(Alg::RS256, "k1");
    let config = Config {
        jwt_validation_pubkeys: vec![key.public_pem()],
        ..Config::default()
    };
    let resolved = rt
        .block_on(resolve(config))
        .map_err(|e| format!("resolve: {e}"))?;
    let role = Role {
        role_type: "jwt".into(),
        user_claim: "sub".into(),
        bound_audiences: Some(vec!["vault".into()]),
        ..Role::default()
    }
    .normalized();
    let token = key.sign(&json!({
        "sub": "alice",
        "aud": "vault",
        "iat": now(),
        "nbf": now() - 5,
        "exp": now() + 3600,
    }));

    // The bare verify: the key parsed once, as ours keeps it, and the
    // signature already decoded.
    let (input, signature) = token
        .rsplit_once('.')
        .ok_or("the token has no signature part")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("signature: {e}"))?;
    let raw_key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_der())
        .map_err(|e| format!("aws-lc key: {e}"))?;
    let raw = || {
        raw_key
            .verify_sig(black_box(input.as_bytes()), black_box(&signature))
            .is_ok()
    };

    let ours = |resolved: &Resolved, role: &Role| {
        rt.block_on(async {
            let mut ok = true;
            for _ in 0..BATCH {
                ok &= login(resolved, role, black_box(&token)).await;
            }
            ok
        })
    };

    // Once each before timing: both must accept the token.
    if !raw() {
        return Err("aws-lc refused the token".into());
    }
    if !ours(&resolved, &role) {
        return Err("the login checks refused the token".into());
    }

    let (mut raw_ops, mut raw_time) = (0u64, Duration::ZERO);
    let (mut our_ops, mut our_time) = (0u64, Duration::ZERO);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        while start.elapsed() < slice {
            for _ in 0..BATCH {
                if !raw() {
                    return Err("aws-lc refused the token".into());
                }
            }
            raw_ops += BATCH;
        }
        raw_time += start.elapsed();

        let start = Instant::now();
        while start.elapsed() < slice {
            if !ours(&resolved, &role) {
                return Err("the login checks refused the token".into());
            }
            our_ops += BATCH;
        }
        our_time += start.elapsed();
    }
    println!(
        "verify_and_claims_per_sec {:.0}",
        our_ops as f64 / our_time.as_secs_f64()
    );
    println!(
        "raw_rs256_verify_per_sec {:.0}",
        raw_ops as f64 / raw_time.as_secs_f64()
    );
    Ok(())
}

/// What a login checks before it builds the auth response.
async fn login(resolved: &Resolved, role: &Role, token: &str) -> bool {
    match verify_signature(resolved, token).await {
        Ok(claims) => check_claims(resolved, role, "bench", claims, now(), "")
            .await
            .is_ok(),
        Err(_) => false,
    }
}
