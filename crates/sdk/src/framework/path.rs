//! One API path declared as data: its pattern, its fields and the
//! operations it handles (Go's `framework.Path`).

use std::sync::Arc;

use super::field::Field;
use super::handler::{self, ExistenceFn, OperationFn};
use crate::logical::Operation;

/// What one operation of a path does, for help and the OpenAPI document.
pub(crate) struct OperationEntry<B> {
    pub handler: handler::Operation<B>,
    pub summary: Option<&'static str>,
}

/// One path of a backend.
///
/// ```
/// use vault_plugin_sdk::framework::{Field, FieldData, Path, pattern};
/// use vault_plugin_sdk::logical::{Error, Request, Response};
///
/// struct Kv;
///
/// async fn read_entry(_: &Kv, _: &Request, data: &FieldData) -> Result<Option<Response>, Error> {
///     let name: String = data.get("name")?;
///     Ok(Some(Response::with_data(serde_json::json!({ "name": name }))))
/// }
///
/// let path: Path<Kv> = Path::new(format!("entry/{}", pattern::generic_name("name")))
///     .field(Field::string("name").description("The entry's name."))
///     .read(read_entry)
///     .help("Read an entry.", "Entries are read by name.");
/// ```
pub struct Path<B> {
    pub(crate) pattern: String,
    pub(crate) fields: Arc<Vec<Field>>,
    pub(crate) operations: Vec<(Operation, OperationEntry<B>)>,
    pub(crate) existence: Option<handler::Existence<B>>,
    pub(crate) synopsis: String,
    pub(crate) description: String,
    pub(crate) takes_arbitrary_input: bool,
}

impl<B: 'static> Path<B> {
    /// A path matching `pattern`, a regular expression in Vault's (Go's RE2)
    /// syntax, matched against the whole request path. Named captures
    /// (`(?P<name>...)`) become fields of the same name.
    pub fn new(pattern: impl Into<String>) -> Self {
        Path {
            pattern: pattern.into(),
            fields: Arc::default(),
            operations: Vec::new(),
            existence: None,
            synopsis: String::new(),
            description: String::new(),
            takes_arbitrary_input: false,
        }
    }

    /// Declares one field.
    pub fn field(mut self, field: Field) -> Self {
        Arc::make_mut(&mut self.fields).push(field);
        self
    }

    /// Declares several fields.
    pub fn fields(mut self, fields: impl IntoIterator<Item = Field>) -> Self {
        Arc::make_mut(&mut self.fields).extend(fields);
        self
    }

    pub(crate) fn operation(&self, op: &Operation) -> Option<&OperationEntry<B>> {
        self.operations
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, entry)| entry)
    }

    /// Handles `op` with `handler`.
    pub fn on<H: for<'a> OperationFn<'a, B>>(mut self, op: Operation, handler: H) -> Self {
        let entry = OperationEntry {
            handler: handler::operation(handler),
            summary: None,
        };
        match self.operations.iter_mut().find(|(o, _)| *o == op) {
            Some(slot) => slot.1 = entry,
            None => self.operations.push((op, entry)),
        }
        self
    }

    /// A one-line summary of operation `op`, for the OpenAPI document.
    pub fn summary(mut self, op: Operation, summary: &'static str) -> Self {
        if let Some((_, entry)) = self.operations.iter_mut().find(|(o, _)| *o == op) {
            entry.summary = Some(summary);
        }
        self
    }

    pub fn read<H: for<'a> OperationFn<'a, B>>(self, handler: H) -> Self {
        self.on(Operation::Read, handler)
    }

    pub fn create<H: for<'a> OperationFn<'a, B>>(self, handler: H) -> Self {
        self.on(Operation::Create, handler)
    }

    pub fn update<H: for<'a> OperationFn<'a, B>>(self, handler: H) -> Self {
        self.on(Operation::Update, handler)
    }

    /// Handles both `create` and `update` with one handler, which can tell
    /// them apart by `req.operation`.
    pub fn write<H: for<'a> OperationFn<'a, B> + Clone>(self, handler: H) -> Self {
        self.on(Operation::Create, handler.clone())
            .on(Operation::Update, handler)
    }

    pub fn patch<H: for<'a> OperationFn<'a, B>>(self, handler: H) -> Self {
        self.on(Operation::Patch, handler)
    }

    pub fn delete<H: for<'a> OperationFn<'a, B>>(self, handler: H) -> Self {
        self.on(Operation::Delete, handler)
    }

    pub fn list<H: for<'a> OperationFn<'a, B>>(self, handler: H) -> Self {
        self.on(Operation::List, handler)
    }

    /// Decides whether a write is a `create` (false) or an `update` (true).
    /// Without one the host sends every write as `update`.
    pub fn existence<H: for<'a> ExistenceFn<'a, B>>(mut self, check: H) -> Self {
        self.existence = Some(handler::existence(check));
        self
    }

    /// The synopsis (one line) and description `path-help` shows.
    pub fn help(mut self, synopsis: impl Into<String>, description: impl Into<String>) -> Self {
        self.synopsis = synopsis.into();
        self.description = description.into();
        self
    }

    /// Accepts fields it does not declare without the "ignored" warning (the
    /// handler reads them from [`FieldData::raw`](super::FieldData::raw)).
    pub fn takes_arbitrary_input(mut self) -> Self {
        self.takes_arbitrary_input = true;
        self
    }
}
