//! The OpenAPI document a backend answers root help with; OpenBao merges it
//! into `sys/internal/specs/openapi` under the mount's path. The shape is
//! what Go's framework emits (`x-vault-*` extensions included), since the
//! host decodes it into its own strict types.

use serde_json::{Map as JsonMap, Value, json};

use super::backend::Framework;
use super::field::{Field, FieldType};
use super::path::Path;
use crate::backend::BackendType;
use crate::logical::Operation;

/// Expands a path pattern into the concrete paths it documents: named
/// captures become `{name}`, optional parts give one variant without and one
/// with. `None`: the pattern uses regex constructs outside captures and
/// cannot be written as a path template.
pub(crate) fn expand(pattern: &str) -> Option<Vec<String>> {
    let body = pattern.trim_start_matches('^').trim_end_matches('$');
    let mut variants = expand_seq(body)?;
    // An optional trailing slash documents the path once, without it.
    let all = variants.clone();
    variants.retain(|v| !(v.ends_with('/') && all.contains(&v.trim_end_matches('/').to_string())));
    variants.dedup();
    Some(variants)
}

fn expand_seq(text: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut variants = vec![String::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let (pieces, next): (Vec<String>, usize) = match c {
            '(' => {
                let end = matching_paren(&chars, i)?;
                let inner: String = chars[i + 1..end].iter().collect();
                let pieces = if let Some(rest) = inner.strip_prefix("?P<") {
                    let name_end = rest.find('>')?;
                    vec![format!("{{{}}}", &rest[..name_end])]
                } else {
                    expand_seq(inner.trim_start_matches("?:"))?
                };
                (pieces, end + 1)
            }
            '\\' => (vec![chars.get(i + 1)?.to_string()], i + 2),
            '/' | '-' | '_' | '.' => (vec![c.to_string()], i + 1),
            c if c.is_ascii_alphanumeric() => (vec![c.to_string()], i + 1),
            _ => return None,
        };
        let optional = chars.get(next) == Some(&'?');
        let mut out = Vec::new();
        for v in &variants {
            if optional {
                out.push(v.clone());
            }
            for p in &pieces {
                out.push(format!("{v}{p}"));
            }
        }
        variants = out;
        i = if optional { next + 1 } else { next };
    }
    Some(variants)
}

fn matching_paren(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn schema_type(kind: FieldType) -> JsonMap<String, Value> {
    let mut s = JsonMap::new();
    let (ty, format) = match kind {
        FieldType::String | FieldType::Header => ("string", None),
        FieldType::NameString => {
            s.insert("pattern".into(), r"\w([\w-.]*\w)?".into());
            ("string", None)
        }
        FieldType::LowerCaseString => ("string", Some("lowercase")),
        FieldType::Int => ("integer", None),
        FieldType::Int64 => ("integer", Some("int64")),
        FieldType::DurationSecond | FieldType::SignedDurationSecond => ("integer", Some("seconds")),
        FieldType::Bool => ("boolean", None),
        FieldType::Map => ("object", Some("map")),
        FieldType::KvPairs => ("object", Some("kvpairs")),
        FieldType::Slice => {
            s.insert("items".into(), json!({"type": "object"}));
            ("array", None)
        }
        FieldType::StringSlice | FieldType::CommaStringSlice | FieldType::CidrList => {
            s.insert("items".into(), json!({"type": "string"}));
            ("array", None)
        }
        FieldType::CommaIntSlice => {
            s.insert("items".into(), json!({"type": "integer"}));
            ("array", None)
        }
        FieldType::Time => ("string", Some("date-time")),
        FieldType::Float => ("number", Some("float")),
    };
    s.insert("type".into(), ty.into());
    if let Some(format) = format {
        s.insert("format".into(), format.into());
    }
    s
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn field_schema(field: &Field) -> Value {
    let mut s = schema_type(field.kind);
    if !field.description.is_empty() {
        s.insert("description".into(), clean(&field.description).into());
    }
    if let Some(default) = &field.default {
        s.insert("default".into(), default.clone());
    }
    if !field.allowed_values.is_empty() {
        s.insert("enum".into(), field.allowed_values.clone().into());
    }
    if field.deprecated {
        s.insert("deprecated".into(), true.into());
    }
    let mut attrs = JsonMap::new();
    if let Some(name) = &field.display_name {
        attrs.insert("name".into(), name.clone().into());
    }
    if let Some(group) = &field.display_group {
        attrs.insert("group".into(), group.clone().into());
    }
    if field.sensitive {
        attrs.insert("sensitive".into(), true.into());
    }
    if !attrs.is_empty() {
        s.insert("x-vault-displayAttrs".into(), Value::Object(attrs));
    }
    Value::Object(s)
}

fn title_case(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn special_match(path: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        if let Some(prefix) = p.strip_suffix('*') {
            path.starts_with(prefix)
        } else if p.contains('+') {
            let want: Vec<&str> = p.split('/').collect();
            let got: Vec<&str> = path.split('/').collect();
            want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| *w == "+" || w == g)
        } else {
            p == path
        }
    })
}

struct Context<'a> {
    prefix: &'a str,
    kind: BackendType,
    schemas: JsonMap<String, Value>,
}

fn operation_id(ctx: &Context<'_>, op: &Operation, expanded: &str) -> String {
    let verb = match op {
        Operation::Update | Operation::Create => "write",
        other => other.as_str(),
    };
    let suffix: Vec<&str> = expanded
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|s| !s.is_empty())
        .collect();
    let mut parts = Vec::new();
    if !ctx.prefix.is_empty() {
        parts.push(ctx.prefix.to_string());
    }
    parts.push(verb.to_string());
    parts.push(suffix.join("-"));
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

fn path_item<B>(
    ctx: &mut Context<'_>,
    path: &Path<B>,
    expanded: &str,
    special: &crate::backend::SpecialPaths,
) -> Value {
    let mut item = JsonMap::new();
    if !path.synopsis.is_empty() {
        item.insert("description".into(), clean(&path.synopsis).into());
    }
    let params_in_path: Vec<String> = expanded
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    let mut parameters = Vec::new();
    for field in path.fields.iter() {
        let in_path = params_in_path.iter().any(|p| p == field.name);
        if in_path || field.query {
            let mut param = json!({
                "name": field.name,
                "description": clean(&field.description),
                "in": if in_path { "path" } else { "query" },
                "schema": field_schema(field),
            });
            if in_path {
                param["required"] = true.into();
            }
            parameters.push(param);
        }
    }
    parameters.sort_by_key(|p| p["name"].as_str().unwrap_or_default().to_lowercase());
    if !parameters.is_empty() {
        item.insert("parameters".into(), parameters.into());
    }
    if special_match(expanded, &special.root) {
        item.insert("x-vault-sudo".into(), true.into());
    }
    if special_match(expanded, &special.unauthenticated) {
        item.insert("x-vault-unauthenticated".into(), true.into());
    }
    let has = |op: Operation| path.operations.iter().any(|(o, _)| *o == op);
    if has(Operation::Create) {
        item.insert("x-vault-createSupported".into(), true.into());
    }
    let tags = match ctx.kind {
        BackendType::Secrets => json!(["secrets"]),
        BackendType::Auth => json!(["auth"]),
    };
    for (op, entry) in &path.operations {
        let method = match op {
            Operation::Read => "get",
            Operation::List if !has(Operation::Read) => "get",
            Operation::Update => "post",
            Operation::Create if !has(Operation::Update) => "post",
            Operation::Delete => "delete",
            Operation::Patch => "patch",
            _ => continue,
        };
        let id = operation_id(ctx, op, expanded);
        let mut operation = json!({
            "operationId": id,
            "tags": tags,
            "responses": if *op == Operation::Delete {
                json!({"204": {"description": "empty body"}})
            } else {
                json!({"200": {"description": "OK"}})
            },
        });
        if let Some(summary) = entry.summary {
            operation["summary"] = summary.into();
        }
        if *op == Operation::List {
            operation["parameters"] = json!([{
                "name": "list",
                "description": "Must be set to `true`",
                "in": "query",
                "schema": {"type": "string", "enum": ["true"]},
                "required": true,
            }]);
        }
        if matches!(op, Operation::Update | Operation::Create | Operation::Patch) {
            let body: Vec<&Field> = path
                .fields
                .iter()
                .filter(|f| !f.query && !params_in_path.iter().any(|p| p == f.name))
                .collect();
            if !body.is_empty() {
                let mut required: Vec<&str> =
                    body.iter().filter(|f| f.required).map(|f| f.name).collect();
                required.sort_unstable();
                let properties: JsonMap<String, Value> = body
                    .iter()
                    .map(|f| (f.name.to_string(), field_schema(f)))
                    .collect();
                let name = format!("{}Request", title_case(&id));
                ctx.schemas.insert(
                    name.clone(),
                    json!({"type": "object", "properties": properties, "required": required}),
                );
                operation["requestBody"] = json!({
                    "required": true,
                    "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}},
                });
            }
        }
        item.insert(method.into(), operation);
    }
    Value::Object(item)
}

/// The document for one path, or for every path when `only` is `None`.
pub(crate) fn document<B: Send + Sync + 'static>(
    backend: &Framework<B>,
    only: Option<&Path<B>>,
    prefix: &str,
) -> Value {
    let special = crate::backend::Backend::special_paths(backend);
    let mut ctx = Context {
        prefix,
        kind: crate::backend::Backend::backend_type(backend),
        schemas: JsonMap::new(),
    };
    let mut paths = JsonMap::new();
    for compiled in backend.compiled_paths() {
        let path = &compiled.path;
        if only.is_some_and(|o| !std::ptr::eq(o, path)) {
            continue;
        }
        match expand(&path.pattern) {
            Some(variants) => {
                for expanded in variants {
                    let item = path_item(&mut ctx, path, &expanded, &special);
                    paths.insert(format!("/{expanded}"), item);
                }
            }
            None => {
                let mut item = JsonMap::new();
                if !path.synopsis.is_empty() {
                    item.insert("description".into(), clean(&path.synopsis).into());
                }
                paths.insert(format!("/{}", path.pattern), Value::Object(item));
            }
        }
    }
    json!({
        "openapi": "3.0.2",
        "info": {
            "title": "OpenBao API",
            "description": "HTTP API that gives you full access to OpenBao. All API routes are prefixed with `/v1/`.",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": "Mozilla Public License 2.0", "url": "https://www.mozilla.org/en-US/MPL/2.0"},
        },
        "paths": paths,
        "components": {"schemas": ctx.schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::pattern::{generic_name, optional_param};

    #[test]
    fn patterns_expand_to_path_templates() {
        let role = format!("role/{}", generic_name("name"));
        assert_eq!(expand(&role), Some(vec!["role/{name}".to_string()]));
        assert_eq!(expand("roles/?"), Some(vec!["roles".to_string()]));
        assert_eq!(expand("config"), Some(vec!["config".to_string()]));
        assert_eq!(
            expand(&format!(
                "creds/{}{}",
                generic_name("name"),
                optional_param("ttl")
            )),
            Some(vec![
                "creds/{name}".to_string(),
                "creds/{name}/{ttl}".to_string()
            ])
        );
        assert_eq!(expand("kv/.*"), None);
    }
}
