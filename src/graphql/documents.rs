//! Documents already checked, by their text.
//!
//! A client sends the same few documents again and again with other variables. What follows
//! from a document's text alone is worked out the first time and kept: the parsed document, the
//! size and field-count checks it passed, and its direct plan ([`super::fast::Plan`]). Parsing
//! is a function of the text and the limits are the server's, so a kept document is exactly
//! what parsing and checking it again would give. What depends on the request (its variables:
//! their coercion, the cost of its pages, `@skip`/`@include`) is checked on every request.
//!
//! Bounded: at most [`KEPT`] documents of at most [`MAX_KEPT_BYTES`] each, the least recently
//! used let go first; a longer document is checked every time it comes.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

use super::fast::Plan;
use super::limits::{DocumentLimit, DocumentRefusal, check_document};

/// How many documents are kept.
pub const KEPT: usize = 128;
/// The longest document kept, in bytes.
pub const MAX_KEPT_BYTES: usize = 4 * 1024;

/// A document that passed the checks of its text, and its direct plan if it has one.
pub struct Checked {
    /// The parsed document.
    pub document: Arc<ExecutableDocument>,
    /// How to answer it directly, when it is of a planned shape.
    pub plan: Option<Arc<Plan>>,
}

/// The documents kept (one per schema, shared by its requests).
pub struct Documents {
    kept: Mutex<LruCache<Box<str>, Arc<Checked>>>,
}

impl Default for Documents {
    fn default() -> Self {
        let size = NonZeroUsize::new(KEPT).unwrap_or(NonZeroUsize::MIN);
        Documents {
            kept: Mutex::new(LruCache::new(size)),
        }
    }
}

impl Documents {
    /// The checked document of `query`: kept, or parsed and checked under `limit` now.
    /// `Ok(None)` when it does not parse (the engine reports why).
    pub fn check(
        &self,
        query: &str,
        limit: &DocumentLimit,
    ) -> Result<Option<Arc<Checked>>, DocumentRefusal> {
        let keep = query.len() <= MAX_KEPT_BYTES;
        if keep
            && let Ok(mut kept) = self.kept.lock()
            && let Some(checked) = kept.get(query)
        {
            return Ok(Some(checked.clone()));
        }
        let Some(document) = check_document(query, limit.max_bytes, limit.max_fields)? else {
            return Ok(None);
        };
        let checked = Arc::new(Checked {
            plan: Plan::of(&document).map(Arc::new),
            document: Arc::new(document),
        });
        if keep && let Ok(mut kept) = self.kept.lock() {
            kept.put(query.into(), checked.clone());
        }
        Ok(Some(checked))
    }

    /// How many documents are kept now.
    pub fn len(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.len())
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: DocumentLimit = DocumentLimit {
        max_bytes: 64 * 1024,
        max_fields: 20,
        max_depth: 10,
        max_complexity: 1000,
    };

    #[test]
    fn a_document_is_parsed_once_and_the_kept_ones_are_bounded() {
        let documents = Documents::default();
        let query = "{ events(first: 1) { edges { node { id } } } }";
        let first = documents
            .check(query, &LIMIT)
            .ok()
            .flatten()
            .expect("parses");
        let again = documents.check(query, &LIMIT).ok().flatten().expect("kept");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(first.plan.is_some(), "a plain page is planned");
        for n in 0..KEPT + 10 {
            let other = format!("query Q{n} {{ lastEventId }}");
            let checked = documents
                .check(&other, &LIMIT)
                .ok()
                .flatten()
                .expect("parses");
            assert!(checked.plan.is_none());
        }
        assert_eq!(documents.len(), KEPT);
        // The least recently used went first.
        let later = documents
            .check(query, &LIMIT)
            .ok()
            .flatten()
            .expect("parses");
        assert!(!Arc::ptr_eq(&first, &later));
        // A long document is checked every time, never kept.
        let long = format!("{{ lastEventId }}{}", " ".repeat(MAX_KEPT_BYTES));
        let a = documents
            .check(&long, &LIMIT)
            .ok()
            .flatten()
            .expect("parses");
        let b = documents
            .check(&long, &LIMIT)
            .ok()
            .flatten()
            .expect("parses");
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn refusals_and_bad_documents_are_not_kept() {
        let documents = Documents::default();
        let wide = format!("{{ {} }}", "lastEventId ".repeat(LIMIT.max_fields + 1));
        for _ in 0..2 {
            assert!(matches!(
                documents.check(&wide, &LIMIT),
                Err(DocumentRefusal::TooManyFields { .. })
            ));
            assert!(matches!(documents.check("{ oops", &LIMIT), Ok(None)));
        }
        assert!(documents.is_empty());
    }
}
