//! Field declarations (Go's `framework.FieldSchema`): a name, a type, a
//! default, help text and the flags that change how the field is shown.

use serde_json::Value;

/// How a field's input is parsed, as Vault parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Any scalar as text (numbers and booleans are converted).
    String,
    /// A string, lowercased.
    LowerCaseString,
    /// A string that must be a name: word characters, `-` and `.` inside.
    NameString,
    /// A whole number (Go `int`).
    Int,
    /// A 64-bit whole number.
    Int64,
    Float,
    /// `true`/`false`, `1`/`0`, `t`/`f` and their capitalisations.
    Bool,
    /// A JSON object.
    Map,
    /// Seconds as a number or string, or a Go duration (`90s`, `1h30m`, `2d`);
    /// negative values are refused.
    DurationSecond,
    /// Like [`FieldType::DurationSecond`], negative values allowed.
    SignedDurationSecond,
    /// A JSON list of anything.
    Slice,
    /// A list of strings (a single value is a one-element list).
    StringSlice,
    /// A JSON list of strings, or one comma-separated string; items trimmed.
    CommaStringSlice,
    /// Like [`FieldType::CommaStringSlice`], of whole numbers.
    CommaIntSlice,
    /// `key=value` pairs: a JSON object of strings, or a list of `k=v`.
    KvPairs,
    /// HTTP headers: an object of string or list-of-string values, or the
    /// same object as JSON text (optionally base64).
    Header,
    /// An RFC 3339 time, or Unix seconds.
    Time,
    /// A comma-separated list (or JSON list) of IP addresses and CIDR blocks,
    /// each checked. Shown as a string list in help and OpenAPI.
    CidrList,
}

impl FieldType {
    /// The name `path-help` shows, as Vault's `FieldType.String()`.
    pub fn help_name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::LowerCaseString => "lowercase string",
            FieldType::NameString => "name string",
            FieldType::Int => "int",
            FieldType::Int64 => "int64",
            FieldType::Float => "float",
            FieldType::Bool => "bool",
            FieldType::Map => "map",
            FieldType::KvPairs => "keypair",
            FieldType::DurationSecond | FieldType::SignedDurationSecond => "duration (sec)",
            FieldType::Slice
            | FieldType::StringSlice
            | FieldType::CommaStringSlice
            | FieldType::CommaIntSlice
            | FieldType::CidrList => "slice",
            FieldType::Header => "header",
            FieldType::Time => "time",
        }
    }
}

/// One declared field of a path.
///
/// ```
/// use vault_plugin_sdk::framework::Field;
/// let ttl = Field::duration("token_ttl")
///     .description("The initial ttl of the token to generate")
///     .default(0);
/// let secret = Field::string("bindpass").sensitive();
/// assert!(secret.is_sensitive());
/// ```
#[derive(Clone, Debug)]
pub struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: FieldType,
    pub(crate) default: Option<Value>,
    pub(crate) description: String,
    pub(crate) required: bool,
    pub(crate) sensitive: bool,
    pub(crate) deprecated: bool,
    pub(crate) query: bool,
    pub(crate) allowed_values: Vec<Value>,
    pub(crate) display_name: Option<String>,
    pub(crate) display_group: Option<String>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $fn:ident => $kind:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(name: &'static str) -> Self {
                Field::new(name, FieldType::$kind)
            }
        )*
    };
}

impl Field {
    pub fn new(name: &'static str, kind: FieldType) -> Self {
        Field {
            name,
            kind,
            default: None,
            description: String::new(),
            required: false,
            sensitive: false,
            deprecated: false,
            query: false,
            allowed_values: Vec::new(),
            display_name: None,
            display_group: None,
        }
    }

    constructors! {
        /// A [`FieldType::String`] field.
        string => String,
        /// A [`FieldType::LowerCaseString`] field.
        lowercase_string => LowerCaseString,
        /// A [`FieldType::NameString`] field.
        name_string => NameString,
        /// A [`FieldType::Int`] field.
        int => Int,
        /// A [`FieldType::Int64`] field.
        int64 => Int64,
        /// A [`FieldType::Float`] field.
        float => Float,
        /// A [`FieldType::Bool`] field.
        bool => Bool,
        /// A [`FieldType::Map`] field.
        map => Map,
        /// A [`FieldType::DurationSecond`] field.
        duration => DurationSecond,
        /// A [`FieldType::SignedDurationSecond`] field.
        signed_duration => SignedDurationSecond,
        /// A [`FieldType::Slice`] field.
        slice => Slice,
        /// A [`FieldType::StringSlice`] field.
        string_slice => StringSlice,
        /// A [`FieldType::CommaStringSlice`] field.
        comma_string_slice => CommaStringSlice,
        /// A [`FieldType::CommaIntSlice`] field.
        comma_int_slice => CommaIntSlice,
        /// A [`FieldType::KvPairs`] field.
        kv_pairs => KvPairs,
        /// A [`FieldType::Header`] field.
        header => Header,
        /// A [`FieldType::Time`] field.
        time => Time,
        /// A [`FieldType::CidrList`] field.
        cidr_list => CidrList,
    }

    /// The value when the request does not give one; parsed like input.
    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Marks the field required in help and OpenAPI. Like Vault, the
    /// framework does not refuse a request without it: the handler decides
    /// (a `create` may need it where an `update` does not).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// A secret: never logged, never returned by a read of this path, and
    /// shown masked by UIs.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Kept for old clients; help and OpenAPI mark it deprecated.
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    /// Read from the URL's query string (shown as a query parameter).
    pub fn query(mut self) -> Self {
        self.query = true;
        self
    }

    /// The values the field accepts, for OpenAPI (`enum`).
    pub fn allowed_values(mut self, values: impl IntoIterator<Item = impl Into<Value>>) -> Self {
        self.allowed_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// The label UIs show.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// The group UIs show the field in.
    pub fn display_group(mut self, group: impl Into<String>) -> Self {
        self.display_group = Some(group.into());
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn kind(&self) -> FieldType {
        self.kind
    }

    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
}
