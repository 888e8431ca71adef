//! Limits the engine does not keep by itself: the number of aliases in a document (an alias
//! flood repeats an expensive field under many names).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerResult, Variables};

use crate::graphql::error::LIMIT_EXCEEDED;

/// Refuses a document with more aliased fields than this.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliased fields in the whole document: every operation and fragment counted once.
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| aliases(&op.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| aliases(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let found = count_aliases(&document);
        if found > self.0 {
            let error = async_graphql::Error::new(format!(
                "the document has {found} aliases; at most {} are allowed",
                self.0
            ))
            .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED));
            return Err(error.into_server_error(async_graphql::Pos::default()));
        }
        Ok(document)
    }
}

/// The subscriptions one WebSocket connection may still open (attached at `connection_init`).
#[derive(Clone, Debug)]
pub struct SubscriptionSlots {
    open: Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
}

/// A subscription's place on its connection, given back when the subscription ends.
pub struct SubscriptionSlot(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl SubscriptionSlots {
    /// At most `max` subscriptions at once.
    pub fn new(max: usize) -> SubscriptionSlots {
        SubscriptionSlots {
            open: Arc::default(),
            max,
        }
    }

    /// Takes a place, or says why there is none.
    pub fn take(&self) -> async_graphql::Result<SubscriptionSlot> {
        let before = self.open.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let slot = SubscriptionSlot(self.open.clone());
        if before >= self.max {
            drop(slot);
            return Err(async_graphql::Error::new(format!(
                "a connection holds at most {} subscriptions",
                self.max
            ))
            .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED)));
        }
        Ok(slot)
    }
}
