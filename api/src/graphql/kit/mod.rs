//! What every context's GraphQL shares: Relay pages and keyset cursors, list filters and
//! ordering, and the depth limit.

pub mod limits;
pub mod lists;
pub mod page;
