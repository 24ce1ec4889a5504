//! Relay-style pagination: opaque keyset cursors, bounded page sizes, a total count.

use crate::error::ApiError;
use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};
use async_graphql::{OutputType, SimpleObject};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ConnectionFields {
    /// All items matching the filter, on every page.
    pub total_count: i64,
}

pub type Page<K, T> = Connection<OpaqueCursor<K>, T, ConnectionFields>;

/// A keyset cursor: the list and order it belongs to, the sort column's value as text (cast
/// back in SQL) and the row's id as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Key {
    pub order: String,
    pub value: String,
    pub id: String,
}

/// Whether the client asked for `totalCount`: counting costs O(matches), so it is only done
/// when wanted.
pub fn wants_total(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// A validated page request: how many rows, and the sort key to start after.
pub struct PageRequest<K> {
    pub limit: i64,
    pub after: Option<K>,
}

impl<K: Serialize + DeserializeOwned + Send + Sync> PageRequest<K> {
    pub fn parse(first: Option<i32>, after: Option<String>) -> Result<Self, ApiError> {
        let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&first) {
            return Err(ApiError::validation(format!(
                "`first` must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let after = match after {
            None => None,
            Some(cursor) => Some(
                OpaqueCursor::<K>::decode_cursor(&cursor)
                    .map_err(|_| ApiError::validation("`after` is not a cursor from this list"))?
                    .0,
            ),
        };
        Ok(Self {
            limit: i64::from(first),
            after,
        })
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Builds the connection from up to `fetch()` rows in sort order.
    pub fn finish<T: OutputType>(
        &self,
        mut rows: Vec<T>,
        total_count: i64,
        key: impl Fn(&T) -> K,
    ) -> Page<K, T> {
        let has_next = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let mut page = Connection::with_additional_fields(
            self.after.is_some(),
            has_next,
            ConnectionFields { total_count },
        );
        page.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(OpaqueCursor(key(&row)), row)),
        );
        page
    }
}
