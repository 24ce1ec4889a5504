//! Identity's read models: operators and their tokens.

pub mod operators;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::identity::operator::Operator;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![chronicle_of::<Operator>()]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(operators::OperatorsProjection)]
}
