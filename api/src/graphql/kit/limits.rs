//! The depth limit, counted so that standard introspection passes.
//!
//! async-graphql's `limit_depth` counts every field, and the introspection query that GraphiQL,
//! graphql-js and graphql-core send nests `ofType` eight deep: 14 levels in all, refused by any
//! limit that still means something for our own fields. So depth is counted here instead, on
//! the parsed document: fields of our schema may nest [`MAX_DEPTH`] deep, and a field inside an
//! introspection subtree (`__schema`, `__type`) up to [`MAX_INTROSPECTION_DEPTH`]. The
//! complexity limit and the recursion limit of the parser still apply to both.

use crate::error::ApiError;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerResult, Variables};
use std::collections::HashMap;
use std::sync::Arc;

/// Deepest query accepted: enough for connection -> edge -> node -> nested lists.
pub const MAX_DEPTH: usize = 12;
/// Deepest introspection accepted: the standard query needs 14; 20 leaves room for clients
/// that ask for a few more `ofType` levels.
pub const MAX_INTROSPECTION_DEPTH: usize = 20;

pub struct DepthLimit;

impl ExtensionFactory for DepthLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DepthLimit)
    }
}

#[async_trait::async_trait]
impl Extension for DepthLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut walk = Walk {
            fragments: &document.fragments,
            known: HashMap::new(),
        };
        for (_, operation) in document.operations.iter() {
            let depth = walk.depth(&operation.node.selection_set, false);
            if depth.ordinary > MAX_DEPTH || depth.introspection > MAX_INTROSPECTION_DEPTH {
                let error = ApiError::validation(format!(
                    "Query is nested too deep: at most {MAX_DEPTH} levels \
                     ({MAX_INTROSPECTION_DEPTH} inside introspection)"
                ));
                return Err(async_graphql::Error::from(error).into_server_error(operation.pos));
            }
        }
        Ok(document)
    }
}

/// How deep the fields below a selection set reach, by kind.
#[derive(Debug, Clone, Copy, Default)]
struct Depth {
    ordinary: usize,
    introspection: usize,
}

impl Depth {
    fn max(self, other: Self) -> Self {
        Self {
            ordinary: self.ordinary.max(other.ordinary),
            introspection: self.introspection.max(other.introspection),
        }
    }
}

struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Each fragment's depth, per mode, computed once: a document spreading fragments into
    /// each other many times over costs its size, not the number of paths through it. `None`
    /// while a fragment is being measured, so a cycle (refused later by validation) ends here.
    known: HashMap<(&'a str, bool), Option<Depth>>,
}

impl<'a> Walk<'a> {
    fn depth(&mut self, set: &'a Positioned<SelectionSet>, introspection: bool) -> Depth {
        let mut deepest = Depth::default();
        for item in &set.node.items {
            let below = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let inside = introspection || name == "__schema" || name == "__type";
                    let below = self.depth(&field.node.selection_set, inside);
                    let mut here = Depth {
                        ordinary: below.ordinary + usize::from(below.ordinary > 0),
                        introspection: below.introspection + usize::from(below.introspection > 0),
                    };
                    if inside {
                        here.introspection = here.introspection.max(1);
                    } else {
                        here.ordinary = here.ordinary.max(1);
                    }
                    here
                }
                Selection::InlineFragment(fragment) => {
                    self.depth(&fragment.node.selection_set, introspection)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), introspection)
                }
            };
            deepest = deepest.max(below);
        }
        deepest
    }

    fn fragment(&mut self, name: &'a str, introspection: bool) -> Depth {
        match self.known.get(&(name, introspection)) {
            Some(Some(depth)) => return *depth,
            Some(None) => return Depth::default(),
            None => {}
        }
        let Some((key, fragment)) = self.fragments.get_key_value(name) else {
            return Depth::default();
        };
        let key = (key.as_str(), introspection);
        self.known.insert(key, None);
        let depth = self.depth(&fragment.node.selection_set, introspection);
        self.known.insert(key, Some(depth));
        depth
    }
}
