//! Identity's read models: operators, their tokens and their permission groups; the people
//! of tenant accounts.

pub mod operators;
pub mod platform_users;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::identity::account_users::AccountUsers;
use domain::identity::group::Group;
use domain::identity::operator::Operator;
use domain::identity::user_email_claim::UserEmailClaim;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![
        chronicle_of::<Operator>(),
        chronicle_of::<Group>(),
        chronicle_of::<AccountUsers>(),
        chronicle_of::<UserEmailClaim>(),
    ]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(operators::OperatorsProjection),
        Arc::new(platform_users::PlatformUsersProjection),
    ]
}
