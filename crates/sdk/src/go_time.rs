//! Go's time formatting for UTC times: `format_utc` is `time.Time.Format`
//! (a layout written as Go's reference time `Mon Jan 2 15:04:05 MST 2006`
//! would look, as Vault's templates take it), and the calendar arithmetic
//! the log timestamps share.

use std::time::Duration;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A UTC calendar time.
struct Civil {
    year: i64,
    month: usize,
    day: u32,
    yday: u32,
    weekday: usize,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

impl Civil {
    fn from_unix(since_epoch: Duration) -> Self {
        let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = BEFORE[(month - 1) as usize] + day + u32::from(leap && month > 2);
        Civil {
            year,
            month: (month - 1) as usize,
            day,
            yday,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as usize,
            hour: (rem / 3_600) as u32,
            minute: (rem % 3_600 / 60) as u32,
            second: (rem % 60) as u32,
            nanos: since_epoch.subsec_nanos(),
        }
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `layout` with Go's layout elements replaced by the time `since_epoch`
/// (UTC); everything else is copied as is.
pub fn format_utc(layout: &str, since_epoch: Duration) -> String {
    let t = Civil::from_unix(since_epoch);
    let hour12 = match t.hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = String::with_capacity(layout.len() + 16);
    let mut rest = layout;
    'scan: while !rest.is_empty() {
        // Go reads fractional seconds of any width: .0, .00, ...
        if let Some(frac) = fraction(rest) {
            push_fraction(&mut out, frac, t.nanos);
            rest = &rest[frac.len()..];
            continue;
        }
        // Longer elements before their prefixes ("15" before "1").
        const ELEMENTS: [&str; 33] = [
            "January",
            "Jan",
            "Monday",
            "Mon",
            "MST",
            "2006",
            "002",
            "01",
            "02",
            "03",
            "04",
            "05",
            "06",
            "15",
            "1",
            "__2",
            "_2",
            "2",
            "3",
            "4",
            "5",
            "PM",
            "pm",
            "Z07:00:00",
            "Z070000",
            "Z07:00",
            "Z0700",
            "Z07",
            "-07:00:00",
            "-070000",
            "-07:00",
            "-0700",
            "-07",
        ];
        for element in ELEMENTS {
            if let Some(after) = rest.strip_prefix(element) {
                // As Go: "Janet" is not "Jan" + "et".
                if matches!(element, "Jan" | "Mon")
                    && after.starts_with(|c: char| c.is_ascii_lowercase())
                {
                    break;
                }
                push_element(&mut out, element, &t, hour12);
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A fractional-seconds element at the start of `s` (`.000`, `,999999`):
/// a separator and one digit repeated, not followed by another digit.
fn fraction(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    if !matches!(bytes.first(), Some(b'.' | b',')) {
        return None;
    }
    let digit = *bytes.get(1)?;
    if digit != b'0' && digit != b'9' {
        return None;
    }
    let len = 1 + bytes[1..].iter().take_while(|&&b| b == digit).count();
    if bytes.get(len).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(&s[..len])
}

fn push_fraction(out: &mut String, element: &str, nanos: u32) {
    let digits = (element.len() - 1).min(9);
    let all = format!("{nanos:09}");
    let shown = &all[..digits];
    if element.as_bytes()[1] == b'9' {
        // `.999`: trailing zeros dropped, and the separator too if none is left.
        let trimmed = shown.trim_end_matches('0');
        if !trimmed.is_empty() {
            out.push_str(&element[..1]);
            out.push_str(trimmed);
        }
    } else {
        out.push_str(&element[..1]);
        out.push_str(shown);
    }
}

fn push_element(out: &mut String, element: &str, t: &Civil, hour12: u32) {
    let s = match element {
        "January" => MONTHS[t.month].to_string(),
        "Jan" => MONTHS[t.month][..3].to_string(),
        "Monday" => DAYS[t.weekday].to_string(),
        "Mon" => DAYS[t.weekday][..3].to_string(),
        "MST" => "UTC".to_string(),
        "2006" => format!("{:04}", t.year),
        "06" => format!("{:02}", t.year.rem_euclid(100)),
        "002" => format!("{:03}", t.yday),
        "01" => format!("{:02}", t.month + 1),
        "1" => (t.month + 1).to_string(),
        "02" => format!("{:02}", t.day),
        "__2" => format!("{:>3}", t.yday),
        "_2" => format!("{:>2}", t.day),
        "2" => t.day.to_string(),
        "15" => format!("{:02}", t.hour),
        "03" => format!("{hour12:02}"),
        "3" => hour12.to_string(),
        "04" => format!("{:02}", t.minute),
        "4" => t.minute.to_string(),
        "05" => format!("{:02}", t.second),
        "5" => t.second.to_string(),
        "PM" => if t.hour >= 12 { "PM" } else { "AM" }.to_string(),
        "pm" => if t.hour >= 12 { "pm" } else { "am" }.to_string(),
        // UTC: the Z forms print "Z", the numeric forms a zero offset.
        e if e.starts_with('Z') => "Z".to_string(),
        "-07:00:00" => "+00:00:00".to_string(),
        "-070000" => "+000000".to_string(),
        "-07:00" => "+00:00".to_string(),
        "-0700" => "+0000".to_string(),
        "-07" => "+00".to_string(),
        _ => element.to_string(),
    };
    out.push_str(&s);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2009-11-10 23:04:05.012300 UTC, a Tuesday, day 314.
    fn t() -> Duration {
        Duration::new(1_257_894_245, 12_300_000)
    }

    #[test]
    fn layouts_format_as_go_does() {
        for (layout, want) in [
            ("2006-01-02T15:04:05Z07:00", "2009-11-10T23:04:05Z"),
            ("2006-01-02", "2009-11-10"),
            ("20060102150405", "20091110230405"),
            (
                "Mon Jan _2 15:04:05 MST 2006",
                "Tue Nov 10 23:04:05 UTC 2009",
            ),
            (
                "Monday, 02-Jan-06 15:04:05 MST",
                "Tuesday, 10-Nov-09 23:04:05 UTC",
            ),
            ("3:04PM", "11:04PM"),
            ("January 2, 2006", "November 10, 2009"),
            (
                "2006-01-02 15:04:05.000 -0700",
                "2009-11-10 23:04:05.012 +0000",
            ),
            ("15:04:05.999999", "23:04:05.0123"),
            ("05.999", "05.012"),
            ("002 __2", "314 314"),
            ("vault-2006", "vault-2009"),
            ("Janet", "Janet"),
        ] {
            assert_eq!(format_utc(layout, t()), want, "{layout}");
        }
    }

    #[test]
    fn dates_across_leap_years_and_the_epoch() {
        assert_eq!(
            format_utc("2006-01-02 Mon 002", Duration::ZERO),
            "1970-01-01 Thu 001"
        );
        // 2024-02-29 12:00:00 UTC.
        assert_eq!(
            format_utc(
                "2006-01-02 Mon 002 03PM",
                Duration::from_secs(1_709_208_000)
            ),
            "2024-02-29 Thu 060 12PM"
        );
        // 2000-12-31 00:00:00 UTC, day 366 of a leap century year.
        assert_eq!(
            format_utc("2006-01-02 002 03 pm", Duration::from_secs(978_220_800)),
            "2000-12-31 366 12 am"
        );
    }
}
