//! Reading the group name out of a DN (`cn=devs,ou=groups,...` -> `devs`),
//! and Active Directory SIDs (tokenGroups values) as text.

/// The value of the first `CN` attribute of `dn`; `dn` itself when it is
/// not a DN (already a plain name) or has no CN. With `exact_case`, only an
/// upper-case `CN` type counts (Vault before 1.1.1, kept for configs that
/// ask for it).
pub fn common_name(dn: &str, exact_case: bool) -> String {
    let Some(rdns) = parse(dn) else {
        return dn.to_string();
    };
    for (attr, value) in rdns {
        let matches = if exact_case {
            attr == "CN"
        } else {
            attr.eq_ignore_ascii_case("CN")
        };
        if matches {
            return value;
        }
    }
    dn.to_string()
}

/// The (type, value) pairs of a DN's RDNs, values unescaped; `None` when
/// it does not parse as a DN.
fn parse(dn: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let bytes = dn.as_bytes();
    let mut i = 0;
    if dn.trim().is_empty() {
        return None;
    }
    while i < bytes.len() {
        let eq = dn[i..].find('=')? + i;
        let attr = dn[i..eq].trim().to_string();
        if attr.is_empty() || attr.contains([',', '+']) {
            return None;
        }
        i = eq + 1;
        let mut value = Vec::new();
        // Where the escaped bytes start and end: spaces there are part of
        // the value (RFC 4514), so only those outside are trimmed.
        let mut escaped: Option<(usize, usize)> = None;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    let next = *bytes.get(i + 1)?;
                    let start = value.len();
                    if next.is_ascii_hexdigit() {
                        let hex = dn.get(i + 1..i + 3)?;
                        value.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 3;
                    } else {
                        value.push(next);
                        i += 2;
                    }
                    escaped = Some((escaped.map_or(start, |(first, _)| first), value.len()));
                }
                b',' | b'+' => break,
                b => {
                    value.push(b);
                    i += 1;
                }
            }
        }
        if i < bytes.len() {
            i += 1;
        }
        let value = String::from_utf8(value).ok()?;
        let value = match escaped {
            None => value.trim(),
            Some((first, last)) => {
                // An escaped byte may begin a character the next bytes end.
                let last = (last..=value.len())
                    .find(|&at| value.is_char_boundary(at))
                    .unwrap_or(value.len());
                let start = first - value[..first].trim_start().len();
                &value[start..last + value[last..].trim_end().len()]
            }
        };
        out.push((attr, value.to_string()));
    }
    Some(out)
}

/// A binary SID as `S-1-5-21-...`.
pub fn sid_to_string(bytes: &[u8]) -> Option<String> {
    let revision = *bytes.first()?;
    let count = usize::from(*bytes.get(1)?);
    let authority = bytes.get(2..8)?;
    let authority = authority
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = format!("S-{revision}-{authority}");
    for k in 0..count {
        let at = 8 + 4 * k;
        let part: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        out.push_str(&format!("-{}", u32::from_le_bytes(part)));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names() {
        let cases = [
            ("cn=devs,ou=groups,dc=example,dc=org", false, "devs"),
            ("CN=Domain Admins,CN=Users,DC=x", false, "Domain Admins"),
            ("cn=devs,ou=groups", true, "cn=devs,ou=groups"),
            ("CN=devs,ou=groups", true, "devs"),
            ("ou=x,cn=late", false, "late"),
            ("devs", false, "devs"),
            ("cn=a\\,b,ou=g", false, "a,b"),
            ("cn=caf\\c3\\a9,ou=g", false, "café"),
            ("uid=x+cn=multi,ou=g", false, "multi"),
            ("", false, ""),
            // Found by the `ldap_escaping` fuzz target: escaped spaces at
            // either end were trimmed with the unescaped ones.
            ("cn=\\ devs\\ ,ou=g", false, " devs "),
            ("cn=  \\20devs\\20  ,ou=g", false, " devs "),
            ("cn= \\ \\c3\\a9 x  ,ou=g", false, " é x"),
            ("cn=\\é ,ou=g", false, "é"),
            ("cn=\\09tab,ou=g", false, "\ttab"),
        ];
        for (dn, exact, want) in cases {
            assert_eq!(common_name(dn, exact), want, "{dn:?}");
        }
    }

    #[test]
    fn sids() {
        // S-1-5-21-1004336348-1177238915-682003330-512 (Domain Admins).
        let mut sid = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
        for part in [21u32, 1004336348, 1177238915, 682003330, 512] {
            sid.extend_from_slice(&part.to_le_bytes());
        }
        assert_eq!(
            sid_to_string(&sid).as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-512")
        );
        assert_eq!(sid_to_string(&sid[..10]), None);
        assert_eq!(sid_to_string(&[]), None);
    }
}
