//! `config/lease`: the lease and maximum lease of IAM-user credentials.
//! Stored as the reference stores it: Go durations in nanoseconds under
//! `Lease` and `LeaseMax`; read back in Go's duration notation (`1h0m0s`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path};
use vault_plugin_sdk::logical::{Error, Request, Response};
use vault_plugin_sdk::storage::Storage;

use crate::backend::AwsBackend;

pub const CONFIG_LEASE_KEY: &str = "config/lease";

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaseConfig {
    /// Nanoseconds.
    #[serde(rename = "Lease", default)]
    pub lease: i64,
    /// Nanoseconds.
    #[serde(rename = "LeaseMax", default)]
    pub lease_max: i64,
}

impl LeaseConfig {
    pub fn ttl(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.lease).unwrap_or(0))
    }

    pub fn max_ttl(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.lease_max).unwrap_or(0))
    }
}

/// The stored lease settings; none means the mount's defaults.
pub async fn lease(storage: &dyn Storage) -> Result<LeaseConfig, Error> {
    Ok(storage
        .get_json(CONFIG_LEASE_KEY)
        .await?
        .unwrap_or_default())
}

pub fn paths() -> Vec<Path<AwsBackend>> {
    vec![
        Path::new("config/lease")
            .field(Field::string("lease").description("Default lease for roles."))
            .field(
                Field::string("lease_max").description("Maximum time a credential is valid for."),
            )
            .read(read_lease)
            .update(write_lease)
            .help(
                "Configure the default lease information for generated credentials.",
                "This configures the default lease information used for credentials generated \
                 by this backend. The lease specifies the duration that a credential will be \
                 valid for, as well as the maximum session for a set of credentials.\n\nThe \
                 format for the lease is \"1h\" or integer and then unit. The longest unit is \
                 hour.",
            ),
    ]
}

async fn read_lease(
    _: &AwsBackend,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let Some(lease) = req
        .storage
        .get_json::<LeaseConfig>(CONFIG_LEASE_KEY)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(json!({
        "lease": format_go_duration(lease.lease),
        "lease_max": format_go_duration(lease.lease_max),
    }))))
}

async fn write_lease(
    _: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let lease: String = data.get("lease")?;
    let lease_max: String = data.get("lease_max")?;
    if lease.is_empty() {
        return Err(Error::invalid("'lease' is a required parameter"));
    }
    if lease_max.is_empty() {
        return Err(Error::invalid("'lease_max' is a required parameter"));
    }
    let lease =
        parse_go_duration(&lease).map_err(|e| Error::invalid(format!("Invalid lease: {e}")))?;
    let lease_max = parse_go_duration(&lease_max)
        .map_err(|e| Error::invalid(format!("Invalid lease_max: {e}")))?;
    req.storage
        .put_json(CONFIG_LEASE_KEY, &LeaseConfig { lease, lease_max })
        .await?;
    Ok(None)
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_go_duration(input: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{input}\"");
    let (negative, mut s) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let number_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let number = &s[..number_len];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        s = &s[number_len..];
        let unit_len = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{input}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{input}\""
                ));
            }
        };
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let n = total.round() as i64;
    Ok(if negative { -n } else { n })
}

/// Go's `time.Duration.String()`.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(n, scale));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = (n / 60_000_000_000) % 60;
    let seconds = fraction(n % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

/// `n / scale` with the fractional digits Go prints (no trailing zeros).
fn fraction(n: u64, scale: u64) -> String {
    let whole = n / scale;
    let rest = n % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let digits = scale.to_string().len() - 1;
    let frac = format!("{rest:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print_as_go_does() {
        let cases: &[(&str, i64, &str)] = &[
            ("1h", 3_600_000_000_000, "1h0m0s"),
            ("90m", 5_400_000_000_000, "1h30m0s"),
            ("30s", 30_000_000_000, "30s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("500ms", 500_000_000, "500ms"),
            ("1h2m3s", 3_723_000_000_000, "1h2m3s"),
            ("0", 0, "0s"),
            ("-2m", -120_000_000_000, "-2m0s"),
            ("720h", 2_592_000_000_000_000, "720h0m0s"),
        ];
        for (input, nanos, printed) in cases {
            assert_eq!(parse_go_duration(input), Ok(*nanos), "{input}");
            assert_eq!(format_go_duration(*nanos), *printed, "{input}");
        }
        for bad in ["", "1", "1d", "h", "banana", "1.2.3s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_go_duration("10x"),
            Err("time: unknown unit \"x\" in duration \"10x\"".to_string())
        );
    }

    #[test]
    fn stored_json_is_the_reference_layout() {
        let stored = serde_json::to_value(LeaseConfig {
            lease: 1,
            lease_max: 2,
        })
        .expect("serialises");
        assert_eq!(stored, json!({"Lease": 1, "LeaseMax": 2}));
    }
}
