//! The subset of Go's `text/template` that Vault's `sdk/helper/template`
//! username templates use: text, `{{ if }}`/`{{ else }}`/`{{ end }}`,
//! pipelines (`a | f x` passes `a` as `f`'s last argument), parenthesised
//! pipelines, string and number literals, `.Field` lookups, and the helper's
//! functions (`printf`, `eq`, `ne`, `random`, `truncate`, `truncate_sha256`,
//! `uppercase`, `lowercase`, `replace`, `sha256`, `base64`, `hex`,
//! `unix_time`, `unix_time_millis`, `timestamp`, `uuid`). A template is
//! parsed once, when the config is written, and rendered for each
//! credential.

use std::collections::HashMap;

use base64::Engine;

/// Why a template cannot be parsed or rendered. The texts follow Go's
/// helper (`unable to parse template: ...`, `unable to apply template: ...`).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("unable to parse template: {0}")]
    Parse(String),
    #[error("unable to apply template: {0}")]
    Apply(String),
}

/// The most bytes a value or the rendered name may hold: far beyond any
/// username (IAM allows 64), near enough that a template such as
/// `{{ random 3000000000 }}` or nested `replace`s cannot exhaust memory.
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// The deepest nesting of parentheses, and of `{{ if }}` blocks, that a
/// template may have: parsing and rendering recurse, and a plugin's
/// request threads have small stacks.
pub const MAX_DEPTH: usize = 100;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If {
        cond: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

/// Commands joined by `|`.
#[derive(Debug, Clone)]
struct Pipeline(Vec<Command>);

/// A function call (or a single operand).
#[derive(Debug, Clone)]
struct Command(Vec<Arg>);

#[derive(Debug, Clone)]
enum Arg {
    Str(String),
    Int(i64),
    Field(String),
    Func(String),
    Sub(Pipeline),
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Value {
    fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(n) => *n != 0,
            Value::Bool(b) => *b,
        }
    }

    fn print(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

const FUNCTIONS: &[&str] = &[
    "printf",
    "eq",
    "ne",
    "not",
    "random",
    "truncate",
    "truncate_sha256",
    "uppercase",
    "lowercase",
    "replace",
    "sha256",
    "base64",
    "hex",
    "unix_time",
    "unix_time_millis",
    "timestamp",
    "uuid",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Int(i64),
    Field(String),
    Ident(String),
    Pipe,
    Open,
    Close,
}

fn lex(action: &str) -> Result<Vec<Token>, TemplateError> {
    let mut out = Vec::new();
    let mut chars = action.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '|' => {
                chars.next();
                out.push(Token::Pipe);
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('\\') => s.push('\\'),
                            Some('"') => s.push('"'),
                            other => {
                                return Err(TemplateError::Parse(format!(
                                    "unsupported escape \\{}",
                                    other.map(String::from).unwrap_or_default()
                                )));
                            }
                        },
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(TemplateError::Parse("unterminated quoted string".into()));
                }
                out.push(Token::Str(s));
            }
            '`' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        closed = true;
                        break;
                    }
                    s.push(c);
                }
                if !closed {
                    return Err(TemplateError::Parse(
                        "unterminated raw quoted string".into(),
                    ));
                }
                out.push(Token::Str(s));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '|' | '(' | ')' | '"' | '`') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                if let Some(field) = word.strip_prefix('.') {
                    out.push(Token::Field(field.to_string()));
                } else if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                    let n = word.parse().map_err(|_| {
                        TemplateError::Parse(format!("bad number syntax: {word:?} at {i}"))
                    })?;
                    out.push(Token::Int(n));
                } else if word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    out.push(Token::Ident(word));
                } else {
                    return Err(TemplateError::Parse(format!(
                        "unexpected {word:?} in command"
                    )));
                }
            }
        }
    }
    Ok(out)
}

struct Tokens {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Tokens {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn pipeline(&mut self) -> Result<Pipeline, TemplateError> {
        let mut commands = vec![self.command()?];
        while self.peek() == Some(&Token::Pipe) {
            self.at += 1;
            commands.push(self.command()?);
        }
        Ok(Pipeline(commands))
    }

    fn command(&mut self) -> Result<Command, TemplateError> {
        let mut args = Vec::new();
        while let Some(token) = self.peek().cloned() {
            match token {
                Token::Pipe | Token::Close => break,
                Token::Open => {
                    self.at += 1;
                    if self.depth >= MAX_DEPTH {
                        return Err(TemplateError::Parse("max depth exceeded".into()));
                    }
                    self.depth += 1;
                    let sub = self.pipeline()?;
                    self.depth -= 1;
                    if self.peek() != Some(&Token::Close) {
                        return Err(TemplateError::Parse("unclosed left paren".into()));
                    }
                    self.at += 1;
                    args.push(Arg::Sub(sub));
                }
                Token::Str(s) => {
                    self.at += 1;
                    args.push(Arg::Str(s));
                }
                Token::Int(n) => {
                    self.at += 1;
                    args.push(Arg::Int(n));
                }
                Token::Field(f) => {
                    self.at += 1;
                    args.push(Arg::Field(f));
                }
                Token::Ident(name) => {
                    if !FUNCTIONS.contains(&name.as_str()) {
                        return Err(TemplateError::Parse(format!(
                            "function {name:?} not defined"
                        )));
                    }
                    self.at += 1;
                    args.push(Arg::Func(name));
                }
            }
        }
        if args.is_empty() {
            return Err(TemplateError::Parse("missing value for command".into()));
        }
        Ok(Command(args))
    }
}

fn parse_pipeline(action: &str) -> Result<Pipeline, TemplateError> {
    let mut tokens = Tokens {
        tokens: lex(action)?,
        at: 0,
        depth: 0,
    };
    let pipeline = tokens.pipeline()?;
    if tokens.at != tokens.tokens.len() {
        return Err(TemplateError::Parse(format!(
            "unexpected input in {action:?}"
        )));
    }
    Ok(pipeline)
}

enum Block {
    Root,
    Then(Pipeline),
    Else(Pipeline, Vec<Node>),
}

impl Template {
    /// Parses `text`. An empty template is refused, as Go's helper does.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if text.is_empty() {
            return Err(TemplateError::Parse("missing template".into()));
        }
        // A stack of open blocks, each with the nodes gathered so far.
        let mut stack: Vec<(Block, Vec<Node>)> = vec![(Block::Root, Vec::new())];
        let mut rest = text;
        while !rest.is_empty() {
            let Some(start) = rest.find("{{") else {
                push_text(&mut stack, rest);
                break;
            };
            let mut before = &rest[..start];
            let mut inner_start = start + 2;
            // `{{- ` trims the whitespace before the action.
            if rest[inner_start..].starts_with("- ") {
                before = before.trim_end();
                inner_start += 1;
            }
            push_text(&mut stack, before);
            let Some(len) = rest[inner_start..].find("}}") else {
                return Err(TemplateError::Parse("unclosed action".into()));
            };
            let mut action = &rest[inner_start..inner_start + len];
            let mut after = &rest[inner_start + len + 2..];
            if action.ends_with(" -") {
                action = &action[..action.len() - 2];
                after = after.trim_start();
            }
            rest = after;
            let action = action.trim();
            let keyword = action.split_whitespace().next().unwrap_or_default();
            match keyword {
                "if" => {
                    if stack.len() > MAX_DEPTH {
                        return Err(TemplateError::Parse("max depth exceeded".into()));
                    }
                    let cond = parse_pipeline(&action[2..])?;
                    stack.push((Block::Then(cond), Vec::new()));
                }
                "else" => {
                    let Some((Block::Then(cond), nodes)) = stack.pop() else {
                        return Err(TemplateError::Parse("unexpected {{else}}".into()));
                    };
                    if action != "else" {
                        return Err(TemplateError::Parse(format!(
                            "unsupported action {action:?}"
                        )));
                    }
                    stack.push((Block::Else(cond, nodes), Vec::new()));
                }
                "end" => {
                    let node = match stack.pop() {
                        Some((Block::Then(cond), then)) => Node::If {
                            cond,
                            then,
                            otherwise: Vec::new(),
                        },
                        Some((Block::Else(cond, then), otherwise)) => Node::If {
                            cond,
                            then,
                            otherwise,
                        },
                        _ => return Err(TemplateError::Parse("unexpected {{end}}".into())),
                    };
                    push_node(&mut stack, node);
                }
                "range" | "with" | "define" | "template" | "block" => {
                    return Err(TemplateError::Parse(format!(
                        "{{{{{keyword}}}}} is not supported in username templates"
                    )));
                }
                _ => {
                    let pipeline = parse_pipeline(action)?;
                    push_node(&mut stack, Node::Action(pipeline));
                }
            }
        }
        match stack.pop() {
            Some((Block::Root, nodes)) if stack.is_empty() => Ok(Template { nodes }),
            _ => Err(TemplateError::Parse("unexpected EOF".into())),
        }
    }

    /// Renders the template with `fields` as `.Name` values.
    pub fn render(&self, fields: &HashMap<&str, String>) -> Result<String, TemplateError> {
        let mut out = String::new();
        render_nodes(&self.nodes, fields, &mut out)?;
        Ok(out)
    }
}

fn push_text(stack: &mut [(Block, Vec<Node>)], text: &str) {
    if !text.is_empty() {
        push_node(stack, Node::Text(text.to_string()));
    }
}

fn push_node(stack: &mut [(Block, Vec<Node>)], node: Node) {
    if let Some((_, nodes)) = stack.last_mut() {
        nodes.push(node);
    }
}

fn render_nodes(
    nodes: &[Node],
    fields: &HashMap<&str, String>,
    out: &mut String,
) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => out.push_str(&eval_pipeline(p, fields)?.print()),
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                if eval_pipeline(cond, fields)?.truthy() {
                    render_nodes(then, fields, out)?;
                } else {
                    render_nodes(otherwise, fields, out)?;
                }
            }
        }
        if out.len() > MAX_VALUE_LEN {
            return Err(too_long("the template"));
        }
    }
    Ok(())
}

fn too_long(what: &str) -> TemplateError {
    TemplateError::Apply(format!("{what} gave more than {MAX_VALUE_LEN} bytes"))
}

fn eval_pipeline(p: &Pipeline, fields: &HashMap<&str, String>) -> Result<Value, TemplateError> {
    let mut piped: Option<Value> = None;
    for command in &p.0 {
        piped = Some(eval_command(command, fields, piped.take())?);
    }
    piped.ok_or_else(|| TemplateError::Apply("empty pipeline".into()))
}

fn eval_arg(arg: &Arg, fields: &HashMap<&str, String>) -> Result<Value, TemplateError> {
    match arg {
        Arg::Str(s) => Ok(Value::Str(s.clone())),
        Arg::Int(n) => Ok(Value::Int(*n)),
        Arg::Field(name) => fields
            .get(name.as_str())
            .map(|v| Value::Str(v.clone()))
            .ok_or_else(|| TemplateError::Apply(format!("can't evaluate field {name} in type"))),
        Arg::Sub(p) => eval_pipeline(p, fields),
        Arg::Func(name) => call(name, Vec::new()),
    }
}

fn eval_command(
    command: &Command,
    fields: &HashMap<&str, String>,
    piped: Option<Value>,
) -> Result<Value, TemplateError> {
    let (first, rest) = command
        .0
        .split_first()
        .ok_or_else(|| TemplateError::Apply("empty command".into()))?;
    match first {
        Arg::Func(name) => {
            let mut args = rest
                .iter()
                .map(|a| eval_arg(a, fields))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(piped);
            let value = call(name, args)?;
            if matches!(&value, Value::Str(s) if s.len() > MAX_VALUE_LEN) {
                return Err(too_long(&format!("error calling {name}:")));
            }
            Ok(value)
        }
        operand => {
            if !rest.is_empty() || piped.is_some() {
                return Err(TemplateError::Apply(
                    "can't give argument to non-function".into(),
                ));
            }
            eval_arg(operand, fields)
        }
    }
}

fn string_arg(func: &str, v: &Value) -> Result<String, TemplateError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(TemplateError::Apply(format!(
            "error calling {func}: expected a string, got {}",
            other.print()
        ))),
    }
}

fn int_arg(func: &str, v: &Value) -> Result<i64, TemplateError> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(TemplateError::Apply(format!(
            "error calling {func}: expected a number, got {}",
            other.print()
        ))),
    }
}

fn arity(func: &str, args: &[Value], n: usize) -> Result<(), TemplateError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(TemplateError::Apply(format!(
            "wrong number of args for {func}: want {n} got {}",
            args.len()
        )))
    }
}

fn call(func: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let s = |i: usize| string_arg(func, &args[i]);
    match func {
        "printf" => {
            let (format, rest) = args
                .split_first()
                .ok_or_else(|| TemplateError::Apply("printf needs a format".into()))?;
            Ok(Value::Str(sprintf(&string_arg(func, format)?, rest)))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(TemplateError::Apply(format!(
                    "missing argument for comparison in {func}"
                )));
            }
            let equal = args[1..].iter().any(|v| *v == args[0]);
            Ok(Value::Bool(if func == "eq" { equal } else { !equal }))
        }
        "not" => {
            arity(func, &args, 1)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        "random" => {
            arity(func, &args, 1)?;
            let n = int_arg(func, &args[0])?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_VALUE_LEN)
                .ok_or_else(|| {
                    TemplateError::Apply(format!("error calling random: invalid length {n}"))
                })?;
            Ok(Value::Str(random_base62(n)?))
        }
        "truncate" => {
            arity(func, &args, 2)?;
            let max = int_arg(func, &args[0])?;
            if max <= 0 {
                return Err(TemplateError::Apply(format!(
                    "error calling truncate: max length must be > 0 but was {max}"
                )));
            }
            Ok(Value::Str(truncate_bytes(&s(1)?, max as usize)))
        }
        "truncate_sha256" => {
            arity(func, &args, 2)?;
            let max = int_arg(func, &args[0])?;
            if max <= 8 {
                return Err(TemplateError::Apply(format!(
                    "error calling truncate_sha256: max length must be > 8 but was {max}"
                )));
            }
            let text = s(1)?;
            let max = max as usize;
            if text.len() <= max {
                return Ok(Value::Str(text));
            }
            let keep = truncate_bytes(&text, max - 8);
            let hash = sha256_hex(&text[keep.len()..]);
            Ok(Value::Str(format!("{keep}{}", &hash[..8])))
        }
        "uppercase" => {
            arity(func, &args, 1)?;
            Ok(Value::Str(s(0)?.to_uppercase()))
        }
        "lowercase" => {
            arity(func, &args, 1)?;
            Ok(Value::Str(s(0)?.to_lowercase()))
        }
        "replace" => {
            arity(func, &args, 3)?;
            let (find, with, text) = (s(0)?, s(1)?, s(2)?);
            // Checked before replacing: with an empty needle, nested
            // replaces grow the text geometrically.
            let matches = if find.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(find.as_str()).count()
            };
            if text
                .len()
                .saturating_add(matches.saturating_mul(with.len()))
                > MAX_VALUE_LEN
            {
                return Err(too_long("error calling replace:"));
            }
            // Go's strings.ReplaceAll with an empty needle inserts between
            // every character; Rust's `replace` does the same.
            Ok(Value::Str(text.replace(&find, &with)))
        }
        "sha256" => {
            arity(func, &args, 1)?;
            Ok(Value::Str(sha256_hex(&s(0)?)))
        }
        "base64" => {
            arity(func, &args, 1)?;
            Ok(Value::Str(
                base64::engine::general_purpose::STANDARD.encode(s(0)?),
            ))
        }
        "hex" => {
            arity(func, &args, 1)?;
            Ok(Value::Str(
                s(0)?.bytes().map(|b| format!("{b:02x}")).collect(),
            ))
        }
        "unix_time" => {
            arity(func, &args, 0)?;
            Ok(Value::Str(now().as_secs().to_string()))
        }
        "unix_time_millis" => {
            arity(func, &args, 0)?;
            Ok(Value::Str(now().as_millis().to_string()))
        }
        "uuid" => {
            arity(func, &args, 0)?;
            Ok(Value::Str(uuid()?))
        }
        "timestamp" => {
            arity(func, &args, 1)?;
            Ok(Value::Str(vault_plugin_sdk::go_time::format_utc(
                &s(0)?,
                now(),
            )))
        }
        other => Err(TemplateError::Apply(format!(
            "function {other:?} not defined"
        ))),
    }
}

/// Go's `s[:n]` on bytes; a cut inside a UTF-8 sequence backs off to the
/// character boundary (Go would produce invalid UTF-8 there).
fn truncate_bytes(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `fmt.Sprintf` for the verbs templates use: `%s`, `%d`, `%v`, `%q`, `%%`.
fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'd' | 'v' | 'q')) => match args.next() {
                Some(v) if verb == 'q' => out.push_str(&format!("{:?}", v.print())),
                Some(v) => out.push_str(&v.print()),
                None => out.push_str(&format!("%!{verb}(MISSING)")),
            },
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push_str("%!(NOVERB)"),
        }
    }
    let extra: Vec<String> = args.map(|v| format!("string={}", v.print())).collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn sha256_hex(s: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` characters from `[A-Za-z0-9]`, uniformly (rejection sampling).
fn random_base62(n: usize) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        aws_lc_rs::rand::fill(&mut buf)
            .map_err(|_| TemplateError::Apply("no random numbers available".into()))?;
        for b in buf {
            // 248 = 4 * 62: bytes above it would bias the first characters.
            if b < 248 && out.len() < n {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

fn uuid() -> Result<String, TemplateError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| TemplateError::Apply("no random numbers available".into()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path_config_root::DEFAULT_USERNAME_TEMPLATE;

    fn fields(kind: &str, display: &str, policy: &str) -> HashMap<&'static str, String> {
        HashMap::from([
            ("Type", kind.to_string()),
            ("DisplayName", display.to_string()),
            ("PolicyName", policy.to_string()),
            ("RoleName", policy.to_string()),
        ])
    }

    fn render(t: &str, f: &HashMap<&str, String>) -> Result<String, TemplateError> {
        Template::parse(t)?.render(f)
    }

    #[test]
    fn deterministic_functions_match_go() {
        let f = fields("IAM", "token-alice", "deploy");
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("{{ .DisplayName }}", "token-alice"),
            (
                "{{ printf \"%s-%s\" .DisplayName .PolicyName }}",
                "token-alice-deploy",
            ),
            ("{{ .PolicyName | uppercase }}", "DEPLOY"),
            ("{{ \"ABC\" | lowercase }}", "abc"),
            ("{{ .DisplayName | truncate 5 }}", "token"),
            ("{{ truncate 50 .DisplayName }}", "token-alice"),
            ("{{ .DisplayName | replace \"-\" \"_\" }}", "token_alice"),
            (
                "{{ \"hello\" | sha256 }}",
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            ),
            ("{{ \"hello\" | base64 }}", "aGVsbG8="),
            ("{{ \"hi\" | hex }}", "6869"),
            // Go: the first 12-8 bytes, then 8 hex digits of the rest's SHA-256.
            (
                "{{ truncate_sha256 12 \"abcdefghijklmnop\" }}",
                "abcdc1bd5d19",
            ),
            ("{{ truncate_sha256 20 \"short\" }}", "short"),
            (
                "{{ if (eq .Type \"STS\") }}sts{{ else }}iam{{ end }}",
                "iam",
            ),
            ("{{ if eq .Type \"IAM\" }}yes{{ end }}", "yes"),
            ("{{ if ne .Type \"IAM\" }}yes{{ end }}", ""),
            ("a {{- \" b \" -}} c", "a b c"),
            ("{{ printf \"%d%%\" 5 }}", "5%"),
            (
                "{{ printf `%s` (printf \"%s-%s\" .DisplayName .PolicyName | truncate 7) }}",
                "token-a",
            ),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, &f).as_deref(), Ok(*want), "{template}");
        }
    }

    #[test]
    fn default_template_renders_as_the_reference_documents() {
        // IAM: vault-<display>-<policy>-<unix time>-<20 random>, at most 64.
        let t = Template::parse(DEFAULT_USERNAME_TEMPLATE).expect("default parses");
        let iam = t
            .render(&fields("IAM", "token-alice", "deploy"))
            .expect("renders");
        let parts: Vec<&str> = iam.split('-').collect();
        assert_eq!(&parts[..4], &["vault", "token", "alice", "deploy"], "{iam}");
        assert!(parts[4].parse::<u64>().is_ok(), "{iam}");
        assert_eq!(parts[5].len(), 20, "{iam}");
        assert!(parts[5].chars().all(|c| c.is_ascii_alphanumeric()));
        // The middle part is cut to 42, the whole to 64.
        let long = t
            .render(&fields("IAM", &"d".repeat(40), &"p".repeat(40)))
            .expect("renders");
        assert_eq!(long.len(), 64, "{long}");
        assert!(
            long.starts_with(&format!("vault-{}-p-", "d".repeat(40))),
            "{long}"
        );
        // STS: vault-<unix time>-<random>, cut to 32.
        let sts = t.render(&fields("STS", "x", "y")).expect("renders");
        assert_eq!(sts.len(), 32, "{sts}");
        assert!(sts.starts_with("vault-"));
    }

    #[test]
    fn random_and_time_are_fresh_each_render() {
        let t = Template::parse("{{ random 20 }}").expect("parses");
        let f = fields("IAM", "", "");
        let a = t.render(&f).expect("renders");
        let b = t.render(&f).expect("renders");
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        let secs: u64 = Template::parse("{{ unix_time }}")
            .and_then(|t| t.render(&f))
            .expect("renders")
            .parse()
            .expect("a number");
        assert!(secs > 1_700_000_000);
        let id = Template::parse("{{ uuid }}")
            .and_then(|t| t.render(&f))
            .expect("renders");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        // Go's layout, in UTC: the hour of unix_time's seconds, or of a
        // moment later if the render crossed into the next hour.
        let stamp = Template::parse(r#"{{ printf "vault-%s" (timestamp "2006-01-02T15Z07:00") }}"#)
            .and_then(|t| t.render(&f))
            .expect("renders");
        let later = now();
        let expected = [std::time::Duration::from_secs(secs), later].map(|t| {
            format!(
                "vault-{}",
                vault_plugin_sdk::go_time::format_utc("2006-01-02T15Z07:00", t)
            )
        });
        assert!(expected.contains(&stamp), "{stamp} not in {expected:?}");
        assert!(stamp.ends_with('Z'), "{stamp}");
    }

    #[test]
    fn huge_and_deep_templates_are_refused() {
        // Found by the `username_templates` fuzz target: the first panicked
        // (capacity overflow), the second allocated 3 GB, the nested ones
        // overflowed the stack when parsed or rendered.
        let f = fields("IAM", "a", "b");
        for t in [
            "{{ random 9223372036854775807 }}",
            "{{ random 3000000000 }}",
            "{{ replace \"\" \"xxxxxxxxxxxxxxxx\" (replace \"\" \"xxxxxxxxxxxxxxxx\" (replace \"\" \"xxxxxxxxxxxxxxxx\" (replace \"\" \"xxxxxxxxxxxxxxxx\" .DisplayName))) }}",
        ] {
            assert!(
                matches!(render(t, &f), Err(TemplateError::Apply(_))),
                "{t:?} should fail to render"
            );
        }
        assert_eq!(
            render("{{ random 65536 | truncate 3 }}", &f).map(|s| s.len()),
            Ok(3)
        );
        let deep = 20_000;
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(deep), ")".repeat(deep));
        let ifs = format!("{}x{}", "{{ if 1 }}".repeat(deep), "{{ end }}".repeat(deep));
        for t in [parens, ifs] {
            assert_eq!(
                Template::parse(&t).err(),
                Some(TemplateError::Parse("max depth exceeded".into()))
            );
        }
        let ok = format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert_eq!(render(&ok, &f).as_deref(), Ok("1"));
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        let f = fields("IAM", "a", "b");
        let parse_errors = [
            "",
            "{{ nosuchfunc }}",
            "{{ if .Type }}never closed",
            "{{ end }}",
            "{{ .DisplayName ",
            "{{ \"unterminated }}",
            "{{ range .X }}{{ end }}",
        ];
        for t in parse_errors {
            assert!(
                matches!(Template::parse(t), Err(TemplateError::Parse(_))),
                "{t:?} should not parse"
            );
        }
        let apply_errors = [
            "{{ truncate 0 .DisplayName }}",
            "{{ truncate_sha256 8 .DisplayName }}",
            "{{ .Missing }}",
            "{{ uppercase }}",
            "{{ random \"x\" }}",
        ];
        for t in apply_errors {
            assert!(
                matches!(render(t, &f), Err(TemplateError::Apply(_))),
                "{t:?} should fail to render"
            );
        }
    }
}
