//! What every context's GraphQL shares: Relay pages and keyset cursors, list filters and
//! ordering, the depth limit, and answers remembered while their read model stands still.

pub mod limits;
pub mod lists;
pub mod memo;
pub mod page;
