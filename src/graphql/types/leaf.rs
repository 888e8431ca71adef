//! The plain fields of the types a page is made of, as the direct path writes them.
//!
//! Each type that a planned page holds lists its plain fields (no arguments, no selection) in
//! one table next to its resolvers: the field's GraphQL name and a function that writes the
//! field's value as JSON. The value comes from the same definition the field's resolver returns
//! (a function both call, or the field a derived object's resolver reads), so a field means the
//! same on both paths; only the writing differs, and it writes what the engine would: the
//! value's GraphQL form, serialized.

use async_graphql::{InputType, OutputType};

/// Writes one plain field of a `T` as JSON; `None` when it cannot be written (which sends the
/// request to the engine).
pub type WriteField<T> = fn(&T, &mut Vec<u8>) -> Option<()>;

/// A type whose plain fields the direct path can write.
pub trait PlainFields: OutputType + Sized {
    /// The writer of the plain field called `name`, or `None` for a field that is not plain or
    /// not known.
    fn plain_field(name: &str) -> Option<WriteField<Self>>;

    /// [`PlainFields::plain_field`], `__typename` included (the type's own GraphQL name).
    fn field(name: &str) -> Option<WriteField<Self>> {
        match name {
            "__typename" => Some(type_name::<Self>),
            _ => Self::plain_field(name),
        }
    }
}

/// `__typename`: the GraphQL name of `T`, as the engine writes it.
pub fn type_name<T: OutputType>(_: &T, w: &mut Vec<u8>) -> Option<()> {
    text(w, &T::type_name())
}

/// A string field, written as the engine writes a `String`.
pub fn text(w: &mut Vec<u8>, value: &str) -> Option<()> {
    serde_json::to_writer(w, value).ok()
}

/// A scalar or enum field (an `Option` of one included), written as its GraphQL value.
pub fn value<T: InputType>(w: &mut Vec<u8>, value: T) -> Option<()> {
    serde_json::to_writer(w, &value.to_value()).ok()
}

/// A nullable string field.
pub fn optional_text(w: &mut Vec<u8>, value: Option<&str>) -> Option<()> {
    serde_json::to_writer(w, &value).ok()
}
