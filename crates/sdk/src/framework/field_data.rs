//! A request's fields, parsed by their declared types (Go's
//! `framework.FieldData`), read by handlers with typed getters.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::field::{Field, FieldType};
use super::parse;
use crate::logical::{Error, Map};

/// A parsed field value.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Map(Map),
    /// Whole seconds (negative only for signed durations).
    Duration(i64),
    Time(SystemTime),
    List(Vec<Value>),
    Strings(Vec<String>),
    Ints(Vec<i64>),
    Pairs(BTreeMap<String, String>),
    Header(BTreeMap<String, Vec<String>>),
}

impl FieldValue {
    /// How many entries a list or map holds; `None` for a single value.
    pub(crate) fn entries(&self) -> Option<usize> {
        match self {
            FieldValue::Map(m) => Some(m.len()),
            FieldValue::List(l) => Some(l.len()),
            FieldValue::Strings(l) => Some(l.len()),
            FieldValue::Ints(l) => Some(l.len()),
            FieldValue::Pairs(p) => Some(p.len()),
            FieldValue::Header(h) => Some(h.len()),
            FieldValue::String(_)
            | FieldValue::Int(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::Duration(_)
            | FieldValue::Time(_) => None,
        }
    }

    /// The value a field of type `kind` has when nothing sets it.
    fn zero(kind: FieldType) -> Self {
        match kind {
            FieldType::String | FieldType::LowerCaseString | FieldType::NameString => {
                FieldValue::String(String::new())
            }
            FieldType::Int | FieldType::Int64 => FieldValue::Int(0),
            FieldType::Float => FieldValue::Float(0.0),
            FieldType::Bool => FieldValue::Bool(false),
            FieldType::Map => FieldValue::Map(Map::new()),
            FieldType::DurationSecond | FieldType::SignedDurationSecond => FieldValue::Duration(0),
            FieldType::Time => FieldValue::Time(UNIX_EPOCH),
            FieldType::Slice => FieldValue::List(Vec::new()),
            FieldType::StringSlice | FieldType::CommaStringSlice | FieldType::CidrList => {
                FieldValue::Strings(Vec::new())
            }
            FieldType::CommaIntSlice => FieldValue::Ints(Vec::new()),
            FieldType::KvPairs => FieldValue::Pairs(BTreeMap::new()),
            FieldType::Header => FieldValue::Header(BTreeMap::new()),
        }
    }

    /// The value as JSON, as a read response would show it.
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::String(s) => s.clone().into(),
            FieldValue::Int(n) | FieldValue::Duration(n) => (*n).into(),
            FieldValue::Float(f) => (*f).into(),
            FieldValue::Bool(b) => (*b).into(),
            FieldValue::Map(m) => Value::Object(m.clone()),
            FieldValue::Time(t) => {
                let secs = t
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                secs.into()
            }
            FieldValue::List(items) => Value::Array(items.clone()),
            FieldValue::Strings(items) => items.clone().into(),
            FieldValue::Ints(items) => items.clone().into(),
            FieldValue::Pairs(pairs) => serde_json::to_value(pairs).unwrap_or_default(),
            FieldValue::Header(header) => serde_json::to_value(header).unwrap_or_default(),
        }
    }
}

/// A Rust type a field can be read as.
pub trait FromField: Sized {
    /// What the type holds, for the message when a handler reads a field as
    /// the wrong type.
    const EXPECTS: &'static str;
    fn from_field(value: FieldValue) -> Option<Self>;
}

macro_rules! from_field {
    ($ty:ty, $expects:literal, $($pat:pat => $out:expr),+ $(,)?) => {
        impl FromField for $ty {
            const EXPECTS: &'static str = $expects;
            fn from_field(value: FieldValue) -> Option<Self> {
                match value {
                    $($pat => $out,)+
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
}

from_field!(String, "a string", FieldValue::String(s) => Some(s));
from_field!(bool, "a bool", FieldValue::Bool(b) => Some(b));
from_field!(i64, "a whole number or duration in seconds",
    FieldValue::Int(n) => Some(n), FieldValue::Duration(n) => Some(n));
from_field!(f64, "a number", FieldValue::Float(f) => Some(f), FieldValue::Int(n) => Some(n as f64));
from_field!(Duration, "a duration",
    FieldValue::Duration(n) => u64::try_from(n).ok().map(Duration::from_secs));
from_field!(SystemTime, "a time", FieldValue::Time(t) => Some(t));
from_field!(Map, "a map", FieldValue::Map(m) => Some(m));
from_field!(Vec<Value>, "a list", FieldValue::List(l) => Some(l));
from_field!(Vec<String>, "a list of strings", FieldValue::Strings(l) => Some(l));
from_field!(Vec<i64>, "a list of whole numbers", FieldValue::Ints(l) => Some(l));
from_field!(BTreeMap<String, String>, "key-value pairs", FieldValue::Pairs(p) => Some(p));
from_field!(HashMap<String, String>, "key-value pairs",
    FieldValue::Pairs(p) => Some(p.into_iter().collect()));
from_field!(BTreeMap<String, Vec<String>>, "headers", FieldValue::Header(h) => Some(h));
from_field!(HashMap<String, Vec<String>>, "headers",
    FieldValue::Header(h) => Some(h.into_iter().collect()));

impl FromField for Value {
    const EXPECTS: &'static str = "any value";
    fn from_field(value: FieldValue) -> Option<Self> {
        Some(value.to_json())
    }
}

impl FromField for FieldValue {
    const EXPECTS: &'static str = "any value";
    fn from_field(value: FieldValue) -> Option<Self> {
        Some(value)
    }
}

macro_rules! narrow_int {
    ($($ty:ty),*) => {$(
        impl FromField for $ty {
            const EXPECTS: &'static str = "a whole number";
            fn from_field(value: FieldValue) -> Option<Self> {
                match value {
                    FieldValue::Int(n) | FieldValue::Duration(n) => <$ty>::try_from(n).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
narrow_int!(i32, u32, u64, usize);

/// One request's input, checked against the path's declared fields.
///
/// Sensitive fields are shown as `<redacted>` by `Debug`.
#[derive(Clone)]
pub struct FieldData {
    raw: Map,
    schema: Arc<Vec<Field>>,
}

impl fmt::Debug for FieldData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.raw {
            let sensitive = self.field(key).is_none_or(|field| field.sensitive);
            if sensitive {
                map.entry(key, &"<redacted>");
            } else {
                map.entry(key, value);
            }
        }
        map.finish()
    }
}

impl FieldData {
    /// `raw` (request data with the URL's captures) read against `schema`.
    pub fn new(raw: Map, schema: Arc<Vec<Field>>) -> Self {
        FieldData { raw, schema }
    }

    fn field(&self, name: &str) -> Option<&Field> {
        self.schema.iter().find(|f| f.name == name)
    }

    /// The input as sent, for paths that take arbitrary input.
    pub fn raw(&self) -> &Map {
        &self.raw
    }

    /// Checks every declared field the request gave, in declaration order:
    /// the first that does not convert is a 400 naming it, in Vault's words.
    pub fn validate(&self) -> Result<(), Error> {
        for field in self.schema.iter() {
            if let Some(value) = self.raw.get(field.name) {
                parse::convert(field.kind, value)
                    .map_err(|cause| conversion_error(field, value, &cause))?;
            }
        }
        Ok(())
    }

    /// The names the request gave that no field declares, sorted.
    pub fn unknown_fields(&self) -> Vec<String> {
        let mut unknown: Vec<String> = self
            .raw
            .keys()
            .filter(|k| self.field(k).is_none())
            .cloned()
            .collect();
        unknown.sort();
        unknown
    }

    fn lookup(&self, name: &str) -> Result<&Field, Error> {
        self.field(name).ok_or_else(|| {
            Error::internal(format!(
                "the handler read field {name:?}, which this path does not declare"
            ))
        })
    }

    fn typed<T: FromField>(field: &Field, value: FieldValue) -> Result<T, Error> {
        if let FieldValue::Duration(n) = value
            && n < 0
            && T::EXPECTS == Duration::EXPECTS
        {
            return Err(Error::invalid(format!(
                "field {:?}: cannot be negative",
                field.name
            )));
        }
        T::from_field(value).ok_or_else(|| {
            Error::internal(format!(
                "field {:?} is declared as {}, but the handler read it as {}",
                field.name,
                field.kind.help_name(),
                T::EXPECTS
            ))
        })
    }

    /// The value of `name`: what the request gave, else the declared
    /// default, else the type's zero value.
    ///
    /// Reading a field the path does not declare, or as a type its declared
    /// type cannot give, is a bug in the plugin: an internal error (500)
    /// that a test of the handler catches.
    pub fn get<T: FromField>(&self, name: &str) -> Result<T, Error> {
        let field = self.lookup(name)?;
        let value = match self.given(field)? {
            Some(value) => value,
            None => self.default_of(field)?,
        };
        Self::typed(field, value)
    }

    /// The value of `name` if the request gave one (defaults do not count):
    /// what an update uses to keep the stored value of an omitted field.
    pub fn get_ok<T: FromField>(&self, name: &str) -> Result<Option<T>, Error> {
        let field = self.lookup(name)?;
        match self.given(field)? {
            Some(value) => Self::typed(field, value).map(Some),
            None => Ok(None),
        }
    }

    /// The first of `names` the request gave (a field and its deprecated
    /// aliases, newest first).
    pub fn get_first<T: FromField>(&self, names: &[&str]) -> Result<Option<T>, Error> {
        for name in names {
            if let Some(value) = self.get_ok(name)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// Whether the request gave `name` at all.
    pub fn contains(&self, name: &str) -> bool {
        self.raw.contains_key(name)
    }

    fn given(&self, field: &Field) -> Result<Option<FieldValue>, Error> {
        match self.raw.get(field.name) {
            None => Ok(None),
            Some(value) => parse::convert(field.kind, value)
                .map_err(|cause| conversion_error(field, value, &cause)),
        }
    }

    fn default_of(&self, field: &Field) -> Result<FieldValue, Error> {
        let Some(default) = &field.default else {
            return Ok(FieldValue::zero(field.kind));
        };
        match parse::convert(field.kind, default) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Ok(FieldValue::zero(field.kind)),
            Err(cause) => Err(Error::internal(format!(
                "the default of field {:?} is not a valid {}: {cause}",
                field.name,
                field.kind.help_name()
            ))),
        }
    }
}

fn conversion_error(field: &Field, value: &Value, cause: &str) -> Error {
    // OpenBao's wording: the input itself is not echoed (it may be a
    // secret, and the cause quotes what matters).
    let shown = parse::go_display(value);
    let message = format!("error converting input for field {:?}: {cause}", field.name);
    // Never echo what was sent for a secret, in whatever form the cause quotes it.
    if field.sensitive {
        let mut redacted = if shown.is_empty() {
            message.clone()
        } else {
            message.replace(&shown, "<redacted>")
        };
        if let Some(text) = value.as_str() {
            redacted = redacted.replace(&format!("{text:?}"), "\"<redacted>\"");
        }
        return Error::invalid(redacted);
    }
    Error::invalid(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(raw: Value, fields: Vec<Field>) -> FieldData {
        FieldData::new(
            raw.as_object().cloned().unwrap_or_default(),
            Arc::new(fields),
        )
    }

    #[test]
    fn given_then_default_then_zero() {
        let d = data(
            json!({"ttl": "1h", "name": "web"}),
            vec![
                Field::duration("ttl").default(60),
                Field::duration("max_ttl").default("2h"),
                Field::string("name"),
                Field::int("uses"),
                Field::comma_string_slice("policies").default("a,b"),
            ],
        );
        assert_eq!(
            d.get::<Duration>("ttl").ok(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            d.get::<Duration>("max_ttl").ok(),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(d.get::<i64>("uses").ok(), Some(0));
        assert_eq!(
            d.get::<Vec<String>>("policies").ok(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(d.get_ok::<Duration>("max_ttl").ok(), Some(None));
        assert_eq!(d.get_ok::<String>("name").ok(), Some(Some("web".into())));
        assert_eq!(
            d.get_first::<String>(&["uses_new", "name"]).ok(),
            None,
            "undeclared first name"
        );
    }

    #[test]
    fn bad_input_is_a_400_naming_field_and_value() {
        let d = data(json!({"ttl": "banana"}), vec![Field::duration("ttl")]);
        let err = d.validate().expect_err("bad duration");
        assert!(matches!(err, Error::InvalidRequest(_)));
        assert_eq!(
            err.to_string(),
            "error converting input for field \"ttl\": time: invalid duration \"banana\""
        );
        assert!(matches!(
            d.get::<Duration>("ttl"),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn a_sensitive_value_is_never_echoed() {
        let d = data(
            json!({"secret": ["hunter2"]}),
            vec![Field::string("secret").sensitive()],
        );
        let err = d
            .validate()
            .expect_err("a list is not a string")
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!format!("{d:?}").contains("hunter2"));
    }

    #[test]
    fn handler_bugs_are_internal_errors() {
        let d = data(json!({"name": "x"}), vec![Field::string("name")]);
        assert!(matches!(d.get::<String>("other"), Err(Error::Internal(_))));
        assert!(matches!(d.get::<bool>("name"), Err(Error::Internal(_))));
    }

    #[test]
    fn unknown_fields_are_listed_sorted() {
        let d = data(
            json!({"b": 1, "a": 2, "name": "x"}),
            vec![Field::string("name")],
        );
        assert_eq!(d.unknown_fields(), vec!["a".to_string(), "b".to_string()]);
    }
}
