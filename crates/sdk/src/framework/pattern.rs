//! Path patterns, written as Vault writes them (Go's RE2 syntax with named
//! captures), and the helpers for its conventions.
//!
//! Patterns are compiled with `regex-lite`: its classes are ASCII like RE2's,
//! and it is a fraction of the `regex` crate's size (the AWS SDK already
//! brings it). Its `\s` also matches `\v`, which RE2's does not, so the perl
//! classes are still spelled out as RE2 defines them: a name Vault refuses is
//! refused here too.

use regex_lite::Regex;

/// A name segment: word characters, with `-` and `.` inside (Go's
/// `framework.GenericNameRegex`).
///
/// ```
/// use vault_plugin_sdk::framework::pattern::generic_name;
/// assert_eq!(generic_name("name"), r"(?P<name>\w(([\w-.]+)?\w)?)");
/// ```
pub fn generic_name(capture: &str) -> String {
    format!(r"(?P<{capture}>\w(([\w-.]+)?\w)?)")
}

/// Like [`generic_name`], also allowing `@` inside (e-mail-like names).
pub fn generic_name_with_at(capture: &str) -> String {
    format!(r"(?P<{capture}>\w(([\w-.@]+)?\w)?)")
}

/// An optional `/<value>` suffix captured as `capture`.
pub fn optional_param(capture: &str) -> String {
    format!(r"(/(?P<{capture}>.+))?")
}

/// Everything that remains of the path, captured as `capture`.
pub fn match_all(capture: &str) -> String {
    format!(r"(?P<{capture}>.*)")
}

/// An optional trailing slash, as list paths accept (`role/` and `role`).
pub const OPTIONAL_TRAILING_SLASH: &str = "/?";

/// Why a pattern could not be compiled: a bug in the plugin, reported when
/// the backend is built, never at request time.
#[derive(Debug, thiserror::Error)]
#[error("path pattern `{pattern}` is not a valid regular expression: {source}")]
pub struct PatternError {
    pattern: String,
    source: regex_lite::Error,
}

/// Compiles a pattern anchored at both ends, as Vault matches paths whole.
pub(crate) fn compile(pattern: &str) -> Result<Regex, PatternError> {
    let mut anchored = ascii_classes(pattern);
    if !anchored.starts_with('^') {
        anchored.insert(0, '^');
    }
    if !anchored.ends_with('$') {
        anchored.push('$');
    }
    Regex::new(&anchored).map_err(|source| PatternError {
        pattern: pattern.to_string(),
        source,
    })
}

/// Rewrites `\w \W \d \D \s \S` to the ASCII classes RE2 gives them, inside
/// and outside bracket expressions.
fn ascii_classes(pattern: &str) -> String {
    const WORD: &str = "0-9A-Za-z_";
    const DIGIT: &str = "0-9";
    const SPACE: &str = r"\t\n\f\r ";
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let (set, negated) = match next {
                    'w' => (WORD, false),
                    'W' => (WORD, true),
                    'd' => (DIGIT, false),
                    'D' => (DIGIT, true),
                    's' => (SPACE, false),
                    'S' => (SPACE, true),
                    other => {
                        out.push('\\');
                        out.push(other);
                        continue;
                    }
                };
                match (in_class, negated) {
                    (false, false) => out.push_str(&format!("[{set}]")),
                    (false, true) => out.push_str(&format!("[^{set}]")),
                    // A negated class inside brackets: Rust nests classes.
                    (true, true) => out.push_str(&format!("[^{set}]")),
                    (true, false) => out.push_str(set),
                }
                // RE2 reads `[\w-.]` as a literal `-`; after expansion it
                // would become a range, so make it literal explicitly.
                if in_class && chars.peek() == Some(&'-') {
                    chars.next();
                    if chars.peek() == Some(&']') {
                        out.push('-');
                    } else {
                        out.push_str(r"\-");
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // `[]...]` and `[^]...]` start with a literal `]`.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => out.push_str(r"\["),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        compile(pattern).expect("compiles").is_match(path)
    }

    #[test]
    fn generic_names_match_as_vault_matches_them() {
        let role = format!("role/{}", generic_name("name"));
        for (path, ok) in [
            ("role/web", true),
            ("role/web-1.prod", true),
            ("role/a", true),
            ("role/_x_", true),
            ("role/-web", false),
            ("role/web-", false),
            ("role/web.", false),
            ("role/wéb", false),
            ("role/a/b", false),
            ("role/", false),
            ("xrole/web", false),
            ("role/web/", false),
        ] {
            assert_eq!(matches(&role, path), ok, "{path}");
        }
        let user = format!("users/{}", generic_name_with_at("name"));
        assert!(matches(&user, "users/alice@example.com"));
        assert!(!matches(&user, "users/@alice"));
    }

    #[test]
    fn captures_and_helpers() {
        let re = compile(&format!(
            "creds/{}{}",
            generic_name("name"),
            optional_param("x")
        ))
        .expect("compiles");
        let caps = re.captures("creds/web/extra/more").expect("match");
        assert_eq!(&caps["name"], "web");
        assert_eq!(&caps["x"], "extra/more");
        assert!(matches(&format!("role{OPTIONAL_TRAILING_SLASH}"), "role"));
        assert!(matches(&format!("role{OPTIONAL_TRAILING_SLASH}"), "role/"));
        assert!(matches(&format!("kv/{}", match_all("path")), "kv/a/b/c"));
    }

    #[test]
    fn perl_classes_become_ascii() {
        for (pattern, out) in [
            (r"\w+", "[0-9A-Za-z_]+"),
            (r"[\w-.]", r"[0-9A-Za-z_\-.]"),
            (r"[.\w-]", "[.0-9A-Za-z_-]"),
            (r"\d\D", "[0-9][^0-9]"),
            (r"[^\s]", r"[^\t\n\f\r ]"),
            (r"a\.b", r"a\.b"),
            (r"[]a]", r"[\]a]"),
        ] {
            assert_eq!(ascii_classes(pattern), out, "{pattern}");
        }
        // RE2's `\s` has no vertical tab; regex-lite's own class does.
        assert!(matches(r"a\sb", "a b"));
        assert!(!matches(r"a\sb", "a\u{b}b"));
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let err = compile("role/(?P<name>").expect_err("unbalanced");
        assert!(err.to_string().contains("role/(?P<name>"), "{err}");
    }
}
