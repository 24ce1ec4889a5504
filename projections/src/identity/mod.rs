//! Identity's read models: operators, their tokens and their permission groups.

pub mod operators;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::identity::group::Group;
use domain::identity::operator::Operator;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![chronicle_of::<Operator>(), chronicle_of::<Group>()]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(operators::OperatorsProjection)]
}
