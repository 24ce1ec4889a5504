//! Identity's read models: operators and their tokens.

pub mod operators;

use crate::store::engine::EventHandler;
use std::sync::Arc;

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(operators::OperatorsProjection)]
}
