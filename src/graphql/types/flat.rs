//! Plain objects and lists of them, resolved in one pass.
//!
//! The engine resolves every field of every object as a boxed future of its own, joins them,
//! and runs the request pipeline's hook on each ([`crate::graphql::pipeline`]). For report rows,
//! buckets and the events of a page, whose fields are values the object already holds, that
//! machinery is most of the CPU of an answer: a 90-day timeline has about a thousand such
//! fields, a page of 50 events 400.
//!
//! [`Flat`] has the schema of `Vec<T>` and [`FlatOne`] that of `T` (the same type name and type
//! info), and each field is resolved with `T`'s own resolver, the one the derive generated: one
//! meaning per field. Only the way the fields are driven differs: one after another, in
//! document order, without a future or a hook of their own. The pipeline's hook checks root fields only, so skipping it below a
//! report's root changes nothing. The engine has already dropped `@skip`/`@include`d fields
//! from the document, and the schema has no unions or interfaces, so every fragment spread in a
//! selection applies to its object.

use std::borrow::Cow;

use async_graphql::futures_util::future::try_join_all;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};

/// An object whose fields are values it holds, or wait at most once (a user loaded in batches
/// with the rest of its list): its fields are resolved one after another.
pub trait Plain: ContainerType + OutputType {
    /// Whether a field may wait (for a batched load); if not, the items of a list are resolved
    /// one after another, each done before the next begins, which holds one item's work in
    /// memory at a time instead of all of them.
    const WAITS: bool = false;
}

/// A list of [`Plain`] objects: `Vec<T>` in the schema, resolved in one pass.
#[derive(Debug, Default)]
pub struct Flat<T>(pub Vec<T>);

impl<T> FromIterator<T> for Flat<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Flat(items.into_iter().collect())
    }
}

impl<T> std::ops::Deref for Flat<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Flat<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Plain> OutputType for Flat<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if !T::WAITS {
            let mut items = Vec::with_capacity(self.0.len());
            for (index, item) in self.0.iter().enumerate() {
                items.push(resolve_object(&ctx.with_index(index), item).await?);
            }
            return Ok(Value::List(items));
        }
        // The items are resolved together, so that a field that does wait (a user loaded in
        // batches) waits once for every item of the list.
        let contexts: Vec<ContextSelectionSet<'_>> = (0..self.0.len())
            .map(|index| ctx.with_index(index))
            .collect();
        let items = contexts
            .iter()
            .zip(&self.0)
            .map(|(ctx, item)| resolve_object(ctx, item));
        Ok(Value::List(try_join_all(items).await?))
    }
}

/// One [`Plain`] object: `T` in the schema, resolved in one pass.
#[derive(Debug)]
pub struct FlatOne<T>(pub T);

impl<T: Plain> OutputType for FlatOne<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_object(ctx, &self.0).await
    }
}

/// Resolves `object`'s selection, fragments expanded in place, as the engine would: the first
/// value of a response key stays, and objects under a repeated key are merged.
async fn resolve_object<T: Plain>(
    ctx: &ContextSelectionSet<'_>,
    object: &T,
) -> ServerResult<Value> {
    let mut values: IndexMap<Name, Value> = IndexMap::new();
    let mut pending: Vec<std::slice::Iter<'_, Positioned<Selection>>> =
        vec![ctx.item.node.items.iter()];
    while let Some(selections) = pending.last_mut() {
        let Some(selection) = selections.next() else {
            pending.pop();
            continue;
        };
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                if field.node.name.node == "__typename" {
                    let name = object.introspection_type_name().into_owned();
                    insert(&mut values, key, Value::String(name));
                    continue;
                }
                // As the engine does: a field that fails is told among the errors and left out.
                match object.resolve_field(&ctx.with_field(field)).await {
                    Ok(value) => insert(&mut values, key, value.unwrap_or_default()),
                    Err(error) => ctx.add_error(error),
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                {
                    pending.push(items(&fragment.node.selection_set));
                }
            }
            Selection::InlineFragment(fragment) => {
                pending.push(items(&fragment.node.selection_set));
            }
        }
    }
    Ok(if values.is_empty() {
        Value::Null
    } else {
        Value::Object(values)
    })
}

fn items(set: &Positioned<SelectionSet>) -> std::slice::Iter<'_, Positioned<Selection>> {
    set.node.items.iter()
}

/// Puts `value` under `key` as the engine does: a key seen before keeps its first value, and
/// objects (or lists of objects, item by item) under it are merged.
fn insert(values: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    let Some(previous) = values.get_mut(&key) else {
        values.insert(key, value);
        return;
    };
    match (previous, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                insert(into, key, value);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (into, from) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (into, from) {
                    for (key, value) in from {
                        insert(into, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

    use super::{Flat, FlatOne, Plain};

    #[derive(SimpleObject, Clone)]
    #[graphql(complex)]
    struct Inner {
        key: String,
        count: i64,
    }

    #[async_graphql::ComplexObject]
    impl Inner {
        /// Fails for odd counts.
        async fn maybe(&self) -> async_graphql::Result<Option<i64>> {
            match self.count % 20 {
                0 => Ok(Some(self.count)),
                _ => Err("odd".into()),
            }
        }

        /// Fails for odd counts, and may not be null.
        async fn surely(&self) -> async_graphql::Result<i64> {
            match self.count % 20 {
                0 => Ok(self.count),
                _ => Err("odd".into()),
            }
        }
    }

    impl Plain for Inner {}

    // The same object twice, named alike: listed as `Vec` (the engine's way) and as `Flat`.
    #[derive(SimpleObject)]
    #[graphql(name = "Row")]
    struct EngineRow {
        id: i32,
        label: Option<String>,
        inner: Vec<Inner>,
    }

    #[derive(SimpleObject)]
    #[graphql(name = "Row")]
    struct FlatRow {
        id: i32,
        label: Option<String>,
        inner: Flat<Inner>,
    }

    impl Plain for FlatRow {}

    /// Row `id`: (id, label, inner items).
    fn row(id: i32) -> (i32, Option<String>, Vec<Inner>) {
        (id, (id % 2 == 0).then(|| format!("row {id}")), inner(id))
    }

    fn inner(id: i32) -> Vec<Inner> {
        (0..i64::from(id % 3))
            .map(|n| Inner {
                key: format!("k{n}"),
                count: n * 10,
            })
            .collect()
    }

    struct EngineQuery;

    #[Object(name = "Query")]
    impl EngineQuery {
        async fn rows(&self) -> Vec<EngineRow> {
            (0..4)
                .map(row)
                .map(|(id, label, inner)| EngineRow { id, label, inner })
                .collect()
        }

        async fn one(&self) -> EngineRow {
            let (id, label, inner) = row(2);
            EngineRow { id, label, inner }
        }
    }

    struct FlatQuery;

    #[Object(name = "Query")]
    impl FlatQuery {
        async fn rows(&self) -> Flat<FlatRow> {
            (0..4)
                .map(row)
                .map(|(id, label, inner)| FlatRow {
                    id,
                    label,
                    inner: Flat(inner),
                })
                .collect()
        }

        async fn one(&self) -> FlatOne<FlatRow> {
            let (id, label, inner) = row(2);
            FlatOne(FlatRow {
                id,
                label,
                inner: Flat(inner),
            })
        }
    }

    const DOCUMENTS: &[&str] = &[
        "{ rows { id label inner { key count } } }",
        "{ rows { inner { count key } label id } }",
        "{ rows { a: id b: label id c: inner { n: count } } }",
        "{ rows { id id label inner { key } inner { count } } }",
        "{ rows { __typename inner { __typename key } } }",
        "{ rows { ...R } } fragment R on Row { label inner { ...I } } fragment I on Inner { count }",
        "{ rows { id ... on Row { label ... { inner { key } } } } }",
        "{ rows { ...R id } } fragment R on Row { id inner { key } inner { count } }",
        "query($s: Boolean!) { rows { id @skip(if: $s) label @include(if: $s) inner { key @skip(if: $s) count } } }",
        "query($s: Boolean!) { rows { id @skip(if: $s) } }",
        "query($s: Boolean!) { rows { inner { key @skip(if: $s) } id } }",
        "{ one { label id inner { count } } rows { id } }",
        "{ rows { id inner { key maybe count } } }",
        "{ rows { id inner { surely key } } one { inner { maybe surely } } }",
        "query($s: Boolean!) { one { ...R id @include(if: $s) } } fragment R on Row { inner { key } label inner { count } }",
    ];

    #[tokio::test]
    async fn a_flat_list_answers_as_the_engine_does() {
        let engine = Schema::new(EngineQuery, EmptyMutation, EmptySubscription);
        let flat = Schema::new(FlatQuery, EmptyMutation, EmptySubscription);
        assert_eq!(engine.sdl(), flat.sdl());
        for document in DOCUMENTS {
            for skip in [true, false] {
                let request = || {
                    async_graphql::Request::new(*document).variables(
                        async_graphql::Variables::from_json(serde_json::json!({ "s": skip })),
                    )
                };
                let expected = serde_json::to_string(&engine.execute(request()).await)
                    .expect("an answer is JSON");
                let answered = serde_json::to_string(&flat.execute(request()).await)
                    .expect("an answer is JSON");
                let fails = document.contains("maybe") || document.contains("surely");
                assert_eq!(expected.contains("errors"), fails, "{document}: {expected}");
                assert_eq!(answered, expected, "{document} (s = {skip})");
            }
        }
    }
}

#[cfg(test)]
mod schema_tests {
    /// [`super::Flat`] expands every fragment in place and drives fields without custom
    /// directives: right only while the schema has no unions, interfaces or custom directives.
    #[test]
    fn the_schema_has_nothing_flat_objects_would_ignore() {
        let sdl = crate::graphql::sdl();
        for line in sdl.lines() {
            assert!(!line.starts_with("union "), "{line}");
            assert!(!line.starts_with("interface "), "{line}");
            assert!(!line.contains(" implements "), "{line}");
            if let Some(directive) = line.strip_prefix("directive @") {
                let name = directive.split(['(', ' ']).next().unwrap_or_default();
                assert!(
                    ["include", "skip", "deprecated", "specifiedBy", "oneOf"].contains(&name),
                    "{line}"
                );
            }
        }
    }
}
