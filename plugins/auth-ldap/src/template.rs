//! The filter templates `userfilter` and `groupfilter`: Go `text/template`
//! text whose actions name a field of the context, such as
//! `(&(objectClass=person)({{.UserAttr}}={{.Username}}))`.
//!
//! Only field actions (`{{.Name}}`, with optional spaces and `{{-`/`-}}`
//! trim markers) are accepted: they are all an LDAP filter needs, and
//! anything else (pipelines, functions, conditionals) is refused when the
//! config is written rather than surprising a login later.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template: unclosed action")]
    Unclosed,
    #[error(
        "template: unsupported action {0:?}: only fields such as {{{{.Username}}}} are allowed"
    )]
    Unsupported(String),
    #[error("template: can't evaluate field {0} (the fields here are {1})")]
    UnknownField(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(String),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, checking that every action names one of `fields`.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let mut before = &rest[..open];
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
            let mut action = &after[..close];
            rest = &after[close + 2..];
            if let Some(a) = action.strip_prefix("- ") {
                before = before.trim_end();
                action = a;
            }
            if let Some(a) = action.strip_suffix(" -") {
                rest = rest.trim_start();
                action = a;
            }
            if !before.is_empty() {
                pieces.push(Piece::Text(before.to_string()));
            }
            let name = action.trim();
            let Some(field) = name.strip_prefix('.') else {
                return Err(TemplateError::Unsupported(action.to_string()));
            };
            if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::Unsupported(action.to_string()));
            }
            if !fields.contains(&field) {
                return Err(TemplateError::UnknownField(
                    field.to_string(),
                    fields.join(", "),
                ));
            }
            pieces.push(Piece::Field(field.to_string()));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// Renders with each field's (already escaped) value.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(f) => out.push_str(&value(f)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &[&str] = &["UserAttr", "Username"];

    fn render(text: &str) -> Result<String, TemplateError> {
        Ok(Template::parse(text, USER)?.render(|f| match f {
            "UserAttr" => "uid".into(),
            _ => "alice".into(),
        }))
    }

    #[test]
    fn renders_fields() {
        assert_eq!(
            render("({{.UserAttr}}={{.Username}})").as_deref(),
            Ok("(uid=alice)")
        );
        assert_eq!(
            render("(&(objectClass=person)({{ .UserAttr }}={{.Username}}))").as_deref(),
            Ok("(&(objectClass=person)(uid=alice))")
        );
        assert_eq!(
            render("(a= {{- .Username -}} )").as_deref(),
            Ok("(a=alice)")
        );
        assert_eq!(render("(objectClass=*)").as_deref(), Ok("(objectClass=*)"));
    }

    #[test]
    fn refuses_what_it_cannot_render() {
        assert_eq!(
            render("({{.UserAttr}}={{.Username}"),
            Err(TemplateError::Unclosed)
        );
        assert!(matches!(
            render("{{printf \"%s\" .Username}}"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            render("{{if .Username}}x{{end}}"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            render("{{.UserDN}}"),
            Err(TemplateError::UnknownField(..))
        ));
        assert!(matches!(
            render("{{.}}"),
            Err(TemplateError::Unsupported(_))
        ));
    }
}
