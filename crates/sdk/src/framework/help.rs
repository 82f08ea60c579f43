//! `path-help`: the text Vault's framework renders for a path and for the
//! whole backend, with the OpenAPI document beside it.

use std::fmt::Write;

use serde_json::json;

use super::backend::Framework;
use super::openapi;
use super::path::Path;
use crate::logical::Response;

fn indent(n: usize, text: &str) -> String {
    let pad = " ".repeat(n);
    text.trim_end_matches('\n')
        .lines()
        .map(|line| format!("{pad}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn or_placeholder(text: &str, placeholder: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        placeholder.to_string()
    } else {
        trimmed.to_string()
    }
}

fn help_response(text: String, document: serde_json::Value) -> Response {
    Response::with_data(json!({
        "help": text,
        "see_also": null,
        "openapi": document,
    }))
}

/// Help for the path `request` matched.
pub(crate) fn path_help<B: Send + Sync + 'static>(
    backend: &Framework<B>,
    path: &Path<B>,
    request: &str,
    prefix: &str,
) -> Response {
    let mut text = format!(
        "Request:        {request}\nMatching Route: {}\n\n{}\n\n",
        anchored(&path.pattern),
        or_placeholder(&path.synopsis, "<no synopsis>")
    );
    let mut fields: Vec<_> = path.fields.iter().collect();
    fields.sort_by_key(|f| f.name);
    if !fields.is_empty() {
        text.push_str("## PARAMETERS\n");
        for field in fields {
            let mut description = or_placeholder(&field.description, "<no description>");
            if field.deprecated {
                description = format!("(DEPRECATED) {description}");
            }
            let _ = write!(
                text,
                "\n{} ({})\n\n{}\n",
                indent(4, field.name),
                field.kind.help_name(),
                indent(8, &description)
            );
        }
    }
    let _ = write!(
        text,
        "\n## DESCRIPTION\n\n{}",
        or_placeholder(&path.description, "<no description>")
    );
    let document = openapi::document(backend, Some(path), prefix);
    help_response(text.trim().to_string(), document)
}

/// Help for the backend: its text and every path.
pub(crate) fn root_help<B: Send + Sync + 'static>(
    backend: &Framework<B>,
    prefix: &str,
) -> Response {
    let mut paths: Vec<(String, String)> = backend
        .compiled_paths()
        .iter()
        .map(|c| {
            (
                anchored(&c.path.pattern),
                c.path.synopsis.trim().to_string(),
            )
        })
        .collect();
    paths.sort();
    let mut text = format!(
        "\n## DESCRIPTION\n\n{}\n\n## PATHS\n\n\
         The following paths are supported by this backend. To view help for\n\
         any of the paths below, use the help command with any route matching\n\
         the path pattern. Note that depending on the policy of your auth token,\n\
         you may or may not be able to access certain paths.\n\n",
        backend.backend_help().trim()
    );
    for (pattern, synopsis) in paths {
        let _ = write!(
            text,
            "{}\n{}\n\n",
            indent(4, &pattern),
            indent(8, &synopsis)
        );
    }
    help_response(
        text.trim().to_string(),
        openapi::document(backend, None, prefix),
    )
}

/// The pattern as Vault shows it: anchored at both ends.
pub(crate) fn anchored(pattern: &str) -> String {
    let mut out = pattern.to_string();
    if !out.starts_with('^') {
        out.insert(0, '^');
    }
    if !out.ends_with('$') {
        out.push('$');
    }
    out
}
