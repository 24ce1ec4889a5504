//! Who issued a command. Nothing is appended without one.

use crate::kit::text_enum;
use serde::{Deserialize, Serialize};
use std::fmt;

text_enum! {
    /// The kind of principal behind a command.
    pub enum ActorKind {
        /// A person operating this backend (admin, billing, support).
        Operator,
        /// A user of a tenant account, acting on their own account.
        AccountUser,
        /// The platform itself, reporting usage and activity.
        Service,
        /// This backend acting on its own: process managers, seeders, migrations.
        System,
    }
}

impl ActorKind {
    /// Only machine principals may state that something happened earlier than now
    /// (imports, replays of platform reports, the demo seeder).
    pub fn may_backdate(self) -> bool {
        matches!(self, Self::Service | Self::System)
    }
}

/// A principal: its stable id and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub kind: ActorKind,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind,
        }
    }

    /// The backend itself, named by the component acting (e.g. `payment-approval`).
    pub fn system(component: &str) -> Self {
        Self::new(ActorKind::System, component)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}
