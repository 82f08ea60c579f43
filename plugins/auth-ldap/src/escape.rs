//! Escaping untrusted input (a login's username) before it goes into an LDAP
//! search filter (RFC 4515) or a distinguished name (RFC 4514).

use std::fmt::Write;

/// Escapes a value for an LDAP search filter: `*`, `(`, `)`, `\`, NUL and
/// every byte outside ASCII become `\xx`, so the value can only ever match
/// itself.
pub fn filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'*' | b'(' | b')' | b'\\' | 0 | 0x80..=0xff => {
                let _ = write!(out, "\\{byte:02x}");
            }
            _ => out.push(char::from(byte)),
        }
    }
    out
}

/// Escapes a value for one attribute value of a DN's RDN.
///
/// RFC 4514's required escapes (`"+,;<>\`, a leading space or `#`, a
/// trailing space, NUL), plus `=` and `#` anywhere, which Active Directory
/// requires and RFC 4514 permits; control characters and bytes outside
/// ASCII are hex-escaped so nothing in a username can end the RDN.
pub fn dn_value(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len() + 4);
    for (i, &byte) in bytes.iter().enumerate() {
        match byte {
            b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b'=' | b'#' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            b' ' if i == 0 || i == bytes.len() - 1 => out.push_str("\\ "),
            0..=0x1f | 0x7f..=0xff => {
                let _ = write!(out, "\\{byte:02x}");
            }
            _ => out.push(char::from(byte)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_cannot_change_the_filter() {
        let cases = [
            ("alice", "alice"),
            ("*", "\\2a"),
            ("al*", "al\\2a"),
            ("alice)(uid=*", "alice\\29\\28uid=\\2a"),
            ("a\\b", "a\\5cb"),
            ("nul\0", "nul\\00"),
            ("jörg", "j\\c3\\b6rg"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(filter_value(input), want, "{input:?}");
        }
    }

    #[test]
    fn dn_values_cannot_add_rdns() {
        let cases = [
            ("alice", "alice"),
            ("ann,lee", "ann\\,lee"),
            ("a+b", "a\\+b"),
            ("x=y", "x\\=y"),
            ("#hash", "\\#hash"),
            ("mid#hash", "mid\\#hash"),
            (" lead", "\\ lead"),
            ("trail ", "trail\\ "),
            ("in side", "in side"),
            ("q\"<>;\\", "q\\\"\\<\\>\\;\\\\"),
            ("nul\0", "nul\\00"),
            ("jörg", "j\\c3\\b6rg"),
            (" ", "\\ "),
        ];
        for (input, want) in cases {
            assert_eq!(dn_value(input), want, "{input:?}");
        }
    }
}
