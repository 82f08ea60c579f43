//! Any text (parts separated by U+FFFD: a username, a user DN, a filter
//! template) through filter escaping (RFC 4515), DN escaping (RFC 4514),
//! DN parsing and the `userfilter`/`groupfilter` templates. Asserts what
//! the escaping promises: an escaped filter value holds no `*`, `(`, `)`,
//! NUL or non-ASCII byte, its `\xx` escapes decode to the value, and every
//! default filter rendered with it parses (with ldap3's own parser) to the
//! filter the template means, with the values unchanged; an escaped DN
//! value holds no unescaped special character and parses back to the
//! value; an escaped value cannot change a template's parentheses. Nothing
//! panics.

#![no_main]

use ldap3::asn1::{OctetString, Sequence, Tag, TagClass};
use libfuzzer_sys::fuzz_target;
use vault_plugin_auth_ldap::config::{
    Config, DEFAULT_GROUP_FILTER, GROUP_FILTER_FIELDS, USER_FILTER_FIELDS,
};
use vault_plugin_auth_ldap::directory::user_filter;
use vault_plugin_auth_ldap::dn::{common_name, sid_to_string};
use vault_plugin_auth_ldap::escape::{dn_value, filter_value};
use vault_plugin_auth_ldap::template::Template;

/// ldap3's context tags for `(|...)` and `(a=v)` (RFC 4511 4.5.1).
const OR: u64 = 1;
const EQUALITY: u64 = 3;

fn equality(attr: &str, value: &[u8]) -> Tag {
    let octets = |inner: Vec<u8>| {
        Tag::OctetString(OctetString {
            inner,
            ..Default::default()
        })
    };
    Tag::Sequence(Sequence {
        class: TagClass::Context,
        id: EQUALITY,
        inner: vec![octets(attr.as_bytes().to_vec()), octets(value.to_vec())],
    })
}

fn or(inner: Vec<Tag>) -> Tag {
    Tag::Sequence(Sequence {
        class: TagClass::Context,
        id: OR,
        inner,
    })
}

fn parsed(filter: &str) -> Tag {
    ldap3::parse_filter(filter).unwrap_or_else(|()| panic!("{filter:?} does not parse"))
}

fn hex(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'a'..=b'f')
}

/// The bytes an escaped filter value stands for, checking that it escapes
/// exactly as RFC 4515 needs: `\` only before two hex digits, and no byte
/// that could end or widen the assertion.
fn unescape_filter(escaped: &str) -> Vec<u8> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        assert!(
            !matches!(byte, b'*' | b'(' | b')' | 0 | 0x80..=0xff),
            "{escaped:?} holds {byte:#x} unescaped"
        );
        if byte == b'\\' {
            let pair = bytes.get(i + 1..i + 3).expect("two digits after \\");
            assert!(pair.iter().all(|&b| hex(b)), "{escaped:?}: bad escape");
            let pair = std::str::from_utf8(pair).expect("ASCII");
            out.push(u8::from_str_radix(pair, 16).expect("hex"));
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    out
}

/// Checks that nothing in an escaped DN value can end it or start another
/// RDN: the specials, control and non-ASCII bytes only escaped, and no
/// unescaped space at either end.
fn check_dn_escaping(escaped: &str) {
    let bytes = escaped.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'\\' {
            let next = *bytes.get(i + 1).expect("a character after \\");
            if hex(next) {
                assert!(bytes.get(i + 2).is_some_and(|&b| hex(b)), "{escaped:?}");
                i += 3;
            } else {
                assert!(b"\"+,;<>\\=# ".contains(&next), "{escaped:?}: \\{next}");
                i += 2;
            }
            continue;
        }
        assert!(
            !matches!(byte, b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'=' | b'#')
                && !byte.is_ascii_control()
                && byte.is_ascii(),
            "{escaped:?} holds {byte:#x} unescaped"
        );
        assert!(
            byte != b' ' || (i != 0 && i != bytes.len() - 1),
            "{escaped:?}: unescaped space at an end"
        );
        i += 1;
    }
}

fn parens(text: &str) -> (usize, usize) {
    (text.matches('(').count(), text.matches(')').count())
}

fn check_filters(username: &str, user_dn: &str) {
    let escaped = filter_value(username);
    assert_eq!(unescape_filter(&escaped), username.as_bytes());
    assert_eq!(unescape_filter(&filter_value(user_dn)), user_dn.as_bytes());

    let mut config = Config {
        userattr: "uid".into(),
        ..Config::default()
    };
    let rendered = user_filter(&config, username).expect("the default filter");
    assert_eq!(parsed(&rendered), equality("uid", username.as_bytes()));

    config.upndomain = "example.com".into();
    let upn = format!("{username}@example.com");
    let rendered = user_filter(&config, username).expect("the default filter");
    assert_eq!(
        parsed(&rendered),
        equality("userPrincipalName", upn.as_bytes())
    );
    config.enable_samaccountname_login = true;
    let rendered = user_filter(&config, username).expect("the default filter");
    assert_eq!(
        parsed(&rendered),
        or(vec![
            equality("userPrincipalName", upn.as_bytes()),
            equality("sAMAccountName", username.as_bytes()),
        ])
    );

    // As `directory::user_groups` renders it.
    let template = Template::parse(DEFAULT_GROUP_FILTER, GROUP_FILTER_FIELDS).expect("default");
    let (dn, name) = (filter_value(user_dn), filter_value(username));
    let rendered = template.render(|field| match field {
        "UserDN" => dn.clone(),
        _ => name.clone(),
    });
    assert_eq!(
        parsed(&rendered),
        or(vec![
            equality("memberUid", username.as_bytes()),
            equality("member", user_dn.as_bytes()),
            equality("uniqueMember", user_dn.as_bytes()),
        ])
    );
}

fn check_dns(value: &str, other: &str) {
    let escaped = dn_value(value);
    check_dn_escaping(&escaped);
    let dn = format!("cn={escaped},ou=groups,dc=example,dc=org");
    assert_eq!(common_name(&dn, false), value, "{dn:?}");
    let dn = format!("uid={},CN={escaped}", dn_value(other));
    assert_eq!(common_name(&dn, true), value, "{dn:?}");
    let _ = common_name(value, false);
    let _ = common_name(value, true);
}

fn check_template(text: &str, username: &str, user_dn: &str) {
    for fields in [USER_FILTER_FIELDS, GROUP_FILTER_FIELDS] {
        let Ok(template) = Template::parse(text, fields) else {
            continue;
        };
        if !text.contains("{{") {
            assert_eq!(template.render(|_| unreachable!()), text);
        }
        let empty = template.render(|_| String::new());
        let rendered = template.render(|field| match field {
            "UserDN" => filter_value(user_dn),
            _ => filter_value(username),
        });
        assert_eq!(parens(&rendered), parens(&empty), "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{fffd}');
    let username = parts.next().unwrap_or_default();
    let user_dn = parts.next().unwrap_or_default();
    let template = parts.next().unwrap_or_default();
    check_filters(username, user_dn);
    check_dns(username, user_dn);
    check_template(template, username, user_dn);
    if let Some(sid) = sid_to_string(data) {
        assert!(sid.starts_with("S-"), "{sid:?}");
    }
});
