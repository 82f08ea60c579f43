//! Static roles' key rotation: on the host's periodic tick, every static
//! role whose key is due gets a new one (the oldest key is deleted first
//! when the user already has IAM's maximum of two).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use vault_plugin_sdk::framework::JsonStorage;
use vault_plugin_sdk::logical::{Error, Request, Response};
use vault_plugin_sdk::storage::Storage;

use crate::backend::AwsBackend;
use crate::client::AwsError;
use crate::path_static_roles::{STATIC_ROLE_PREFIX, StaticRole, role_key};

pub const STATIC_CREDS_PREFIX: &str = "static-creds/";

/// IAM's limit of access keys per user.
const MAX_KEYS_PER_USER: usize = 2;

/// The reference's `awsCredentials` JSON; `expiration` is when the key is
/// next rotated (RFC 3339, as Go writes a `time.Time`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StaticCredential {
    pub access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    pub secret_key: String,
}

pub fn creds_key(name: &str) -> String {
    format!("{STATIC_CREDS_PREFIX}{name}")
}

pub async fn stored_credential(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<StaticCredential>, Error> {
    storage.get_json(&creds_key(name)).await
}

/// Makes a new key for the role's user and stores it, due again one
/// rotation period from now.
pub async fn create_credential(
    iam: &aws_sdk_iam::Client,
    storage: &dyn Storage,
    role: &StaticRole,
) -> Result<StaticCredential, RotationError> {
    let keys = iam
        .list_access_keys()
        .user_name(&role.username)
        .send()
        .await
        .map_err(|e| {
            RotationError::Aws(
                "unable to list existing access keys",
                AwsError::from_sdk(&e),
            )
        })?
        .access_key_metadata;
    if keys.len() >= MAX_KEYS_PER_USER
        && let Some(oldest) = keys
            .iter()
            .min_by_key(|k| k.create_date().map(|d| d.secs()).unwrap_or(i64::MIN))
        && let Some(id) = oldest.access_key_id()
    {
        iam.delete_access_key()
            .user_name(&role.username)
            .access_key_id(id)
            .send()
            .await
            .map_err(|e| {
                RotationError::Aws(
                    "unable to delete oldest access keys",
                    AwsError::from_sdk(&e),
                )
            })?;
    }
    let out = iam
        .create_access_key()
        .user_name(&role.username)
        .send()
        .await
        .map_err(|e| {
            RotationError::Aws("unable to create new access keys", AwsError::from_sdk(&e))
        })?;
    let key = out
        .access_key()
        .ok_or(RotationError::Missing("CreateAccessKey returned no key"))?;
    let credential = StaticCredential {
        access_key: key.access_key_id().to_string(),
        secret_key: key.secret_access_key().to_string(),
        expiration: Some(format_rfc3339(SystemTime::now() + role.period())),
    };
    storage
        .put_json(&creds_key(&role.name), &credential)
        .await
        .map_err(RotationError::Storage)?;
    Ok(credential)
}

/// Forgets the role's key and deletes it from IAM: it is the one this
/// engine made, so nobody else relies on it.
pub async fn delete_credential(
    iam: &aws_sdk_iam::Client,
    storage: &dyn Storage,
    role: &StaticRole,
) -> Result<(), RotationError> {
    let Some(credential) = stored_credential(storage, &role.name)
        .await
        .map_err(RotationError::Storage)?
    else {
        return Ok(());
    };
    storage
        .delete(&creds_key(&role.name))
        .await
        .map_err(|e| RotationError::Storage(e.into()))?;
    match iam
        .delete_access_key()
        .user_name(&role.username)
        .access_key_id(&credential.access_key)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::from_sdk(&e);
            // Already gone (deleted by hand, or by a rotation elsewhere).
            if err.is("NoSuchEntity") {
                Ok(())
            } else {
                Err(RotationError::Aws("couldn't delete from IAM", err))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}: {1}")]
    Aws(&'static str, AwsError),
    #[error("{0}")]
    Missing(&'static str),
    #[error("storage: {0}")]
    Storage(Error),
}

/// The periodic function: rotates every static role that is due.
pub async fn rotate_due(backend: &AwsBackend, req: &Request) -> Result<Option<Response>, Error> {
    let names = req.storage.list(STATIC_ROLE_PREFIX).await?;
    if names.is_empty() {
        return Ok(None);
    }
    let _guard = backend.static_lock.lock().await;
    let resolved = backend.resolved(req).await?;
    let now = SystemTime::now();
    let mut failures = Vec::new();
    for name in names {
        let Some(role) = req.storage.get_json::<StaticRole>(&role_key(&name)).await? else {
            continue;
        };
        let credential = stored_credential(req.storage.as_ref(), &name).await?;
        let due = match credential
            .as_ref()
            .map(|c| c.expiration.as_deref().map(parse_rfc3339))
        {
            None => true,
            Some(Some(Some(at))) => at <= now,
            // A key stored without a due time (an older engine's) is due one
            // period from the first time this engine sees it.
            Some(_) => {
                if let Some(mut c) = credential.clone() {
                    c.expiration = Some(format_rfc3339(now + role.period()));
                    req.storage.put_json(&creds_key(&name), &c).await?;
                }
                false
            }
        };
        if !due {
            continue;
        }
        match create_credential(&resolved.clients.iam, req.storage.as_ref(), &role).await {
            Ok(_) => tracing::info!(role = %name, "rotated a static role's access key"),
            Err(err) => failures.push(format!("role {name:?}: {err}")),
        }
    }
    if failures.is_empty() {
        Ok(None)
    } else {
        Err(Error::internal(format!(
            "error(s) occurred while rotating expired static credentials: {}",
            failures.join("; ")
        )))
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Parses what Go writes for a `time.Time`: RFC 3339 with optional
/// fractional seconds and a `Z` or `±hh:mm` offset.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        rest = &frac[end..];
    }
    let offset = match rest {
        "Z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

// Howard Hinnant's civil-calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_go_notation() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_274_245);
        let s = format_rfc3339(t);
        assert_eq!(s, "2026-12-03T05:04:05Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(
            parse_rfc3339("2026-12-03T06:04:05.123456789+01:00"),
            Some(t)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z")
                .map(format_rfc3339)
                .as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
