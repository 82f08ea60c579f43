//! Glob matching as the reference does it (`ryanuber/go-glob`): `*` is the
//! only wildcard and matches any run of characters, including none; there
//! is no escape, and every other character matches itself.

pub fn glob(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() {
        return subject.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == subject;
    }
    let leading_glob = pattern.starts_with('*');
    let trailing_glob = pattern.ends_with('*');
    let last = parts.len() - 1;
    // The first piece anchors the start unless the pattern starts with `*`.
    if !leading_glob && !subject.starts_with(parts[0]) {
        return false;
    }
    let mut rest = subject;
    for part in &parts[..last] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    // The last piece anchors the end unless the pattern ends with `*`.
    trailing_glob || rest.ends_with(parts[last])
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn matches_like_go_glob() {
        let cases = [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a*", "abc", true),
            ("a*", "bac", false),
            ("*c", "abc", true),
            ("*c", "abcd", false),
            ("a*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "abd", false),
            ("*b*", "abc", true),
            ("*b*", "ac", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("team-*@example.com", "team-ops@example.com", true),
            ("team-*@example.com", "team-ops@example.org", false),
            ("**", "x", true),
            ("a**c", "abc", true),
            ("ab*ba", "aba", false),
        ];
        for (pattern, subject, want) in cases {
            assert_eq!(glob(pattern, subject), want, "{pattern:?} vs {subject:?}");
        }
    }
}
