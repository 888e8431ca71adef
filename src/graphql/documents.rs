//! Documents already checked, by their text.
//!
//! A client sends the same few documents again and again with other variables. What follows
//! from a document's text alone is worked out the first time and kept: the parsed document, the
//! size and field-count checks it passed, and its direct plan ([`super::fast::Plan`]). Parsing
//! is a function of the text and the limits are the server's, so a kept document is exactly
//! what parsing and checking it again would give. What depends on the request (its variables:
//! their coercion, the cost of its pages, `@skip`/`@include`) is checked on every request.
//!
//! Bounded: at most [`KEPT`] documents of at most [`MAX_KEPT_BYTES`] of text each, the least
//! recently used let go first; a longer document is checked every time it comes. Only a document
//! that passed validation once is kept, so text that does not validate cannot take a place. A
//! parsed document is larger than its text (up to a few dozen times for long lists of literals),
//! which the small count keeps to a few megabytes at worst.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

use super::fast::Plan;
use async_graphql::ServerResult;

use super::limits::{DocumentLimit, DocumentRefusal, PendingVariableError, check_document};

/// How many documents are kept.
pub const KEPT: usize = 64;
/// The longest document kept, in bytes.
pub const MAX_KEPT_BYTES: usize = 4 * 1024;

/// A document that passed the checks of its text, and its direct plan if it has one.
pub struct Checked {
    /// The parsed document.
    pub document: Arc<ExecutableDocument>,
    /// How to answer it directly, when it is of a planned shape.
    pub plan: Option<Arc<Plan>>,
}

/// A document checked now, not yet kept: it is kept once it has passed validation.
pub struct Unkept {
    query: Box<str>,
    checked: Arc<Checked>,
}

/// A checked document, and what to keep once it validates when it was checked just now.
pub type Found = (Arc<Checked>, Option<Unkept>);

/// The documents kept for one schema, checked under its limits.
pub struct Documents {
    limit: DocumentLimit,
    kept: Mutex<LruCache<Box<str>, Arc<Checked>>>,
}

impl Documents {
    /// No documents yet; they will be checked under `limit`.
    pub fn new(limit: DocumentLimit) -> Documents {
        let size = NonZeroUsize::new(KEPT).unwrap_or(NonZeroUsize::MIN);
        Documents {
            limit,
            kept: Mutex::new(LruCache::new(size)),
        }
    }

    /// The limits documents are checked under.
    pub fn limit(&self) -> &DocumentLimit {
        &self.limit
    }

    /// The checked document of `query`: kept, or parsed and checked now (then also what to
    /// [`Documents::keep`] once it validates, if it is short enough to be kept). `Ok(None)` when
    /// it does not parse (the engine reports why).
    pub fn check(&self, query: &str) -> Result<Option<Found>, DocumentRefusal> {
        let keepable = query.len() <= MAX_KEPT_BYTES;
        if keepable
            && let Ok(mut kept) = self.kept.lock()
            && let Some(checked) = kept.get(query)
        {
            return Ok(Some((checked.clone(), None)));
        }
        let limit = &self.limit;
        let Some(document) = check_document(query, limit.max_bytes, limit.max_fields)? else {
            return Ok(None);
        };
        let document = Arc::new(document);
        let checked = Arc::new(Checked {
            plan: Plan::of(&document).map(Arc::new),
            document,
        });
        let unkept = keepable.then(|| Unkept {
            query: query.into(),
            checked: checked.clone(),
        });
        Ok(Some((checked, unkept)))
    }

    /// Checks the request's document before the engine parses it (or finds it among those
    /// already checked), and hands the engine the parsed document so that it is parsed once; a
    /// bad variable is kept in `pending`.
    pub fn prepare(
        &self,
        registry: &async_graphql::registry::Registry,
        mut request: async_graphql::Request,
        pending: &PendingVariableError,
    ) -> ServerResult<(async_graphql::Request, Option<Found>)> {
        match self.check(&request.query) {
            Ok(Some((checked, unkept))) => {
                // Variables that do not coerce refuse the whole request, before it runs.
                if let Err(error) = super::variables::check(
                    registry,
                    &checked.document,
                    request.operation_name.as_deref(),
                    &request.variables,
                ) && let Ok(mut slot) = pending.lock()
                {
                    *slot = Some(error);
                }
                request.set_parsed_query(ExecutableDocument::clone(&checked.document));
                Ok((request, Some((checked, unkept))))
            }
            Ok(None) => Ok((request, None)),
            Err(refusal) => Err(refusal
                .to_error()
                .into_server_error(async_graphql::Pos::default())),
        }
    }

    /// Keeps a checked document that passed validation.
    pub fn keep(&self, unkept: Unkept) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.put(unkept.query, unkept.checked);
        }
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

    fn documents() -> Documents {
        Documents::new(DocumentLimit {
            max_bytes: 64 * 1024,
            max_fields: 20,
            max_depth: 10,
            max_complexity: 1000,
        })
    }

    /// Checks `query` and keeps it, as a request that validates does.
    fn validated(documents: &Documents, query: &str) -> Arc<Checked> {
        let Ok(Some((checked, unkept))) = documents.check(query) else {
            panic!("{query} does not pass");
        };
        if let Some(unkept) = unkept {
            documents.keep(unkept);
        }
        checked
    }

    #[test]
    fn a_document_is_parsed_once_and_the_kept_ones_are_bounded() {
        let documents = documents();
        let query = "{ events(first: 1) { edges { node { id } } } }";
        let first = validated(&documents, query);
        let again = validated(&documents, query);
        assert!(Arc::ptr_eq(&first, &again));
        assert!(first.plan.is_some(), "a plain page is planned");
        for n in 0..KEPT + 10 {
            let checked = validated(&documents, &format!("query Q{n} {{ lastEventId }}"));
            assert!(checked.plan.is_none());
        }
        assert_eq!(documents.len(), KEPT);
        // The least recently used went first.
        assert!(!Arc::ptr_eq(&first, &validated(&documents, query)));
        // A long document is checked every time, never kept.
        let long = format!("{{ lastEventId }}{}", " ".repeat(MAX_KEPT_BYTES));
        let a = validated(&documents, &long);
        assert!(!Arc::ptr_eq(&a, &validated(&documents, &long)));
    }

    #[test]
    fn only_documents_that_validated_are_kept() {
        let documents = documents();
        let wide = format!(
            "{{ {} }}",
            "lastEventId ".repeat(documents.limit().max_fields + 1)
        );
        for _ in 0..2 {
            assert!(matches!(
                documents.check(&wide),
                Err(DocumentRefusal::TooManyFields { .. })
            ));
            assert!(matches!(documents.check("{ oops"), Ok(None)));
            // Checked, but not kept until it is known to validate.
            let Ok(Some((_, unkept))) = documents.check("{ noSuchField }") else {
                panic!("parses");
            };
            assert!(unkept.is_some());
        }
        assert!(documents.is_empty());
    }
}
