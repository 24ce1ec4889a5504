//! What an operator may do, named once: every GraphQL field declares the permission it needs,
//! and groups grant them. Superusers hold every permission; the platform's service principal
//! holds none of these (it may only report usage).

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// A named permission, as events, read models and the API spell it (`accounts.read`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Permission {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)+
                }
            }
        }
    };
}

permissions! {
    /// See accounts, their plans, status and balance.
    AccountsRead = "accounts.read",
    /// Open, rename, suspend, activate, delete and restore accounts.
    AccountsWrite = "accounts.write",
    /// Grant or deduct credits by hand.
    CreditsAdjust = "credits.adjust",
    /// See payments, invoices and the credit ledger.
    BillingRead = "billing.read",
    /// Record payments and change an account's plan.
    BillingWrite = "billing.write",
    /// Approve, reject and refund payments.
    PaymentsApprove = "payments.approve",
    /// Edit content, strategies and author profiles.
    ContentWrite = "content.write",
    /// Edit and reset prompts.
    PromptsWrite = "prompts.write",
    /// Override an account's AI models and parameters (never its keys: those are global).
    AiSettingsWrite = "ai_settings.write",
    /// See the people of tenant accounts.
    UsersRead = "users.read",
    /// Manage the people of tenant accounts.
    UsersWrite = "users.write",
    /// Read the audit trail, histories, time travel and the seal status; export them.
    AuditRead = "audit.read",
    /// See the dashboard, the reports and the platform's metrics, across accounts.
    InsightRead = "insight.read",
    /// See the staff: operators and their groups.
    OperatorsRead = "operators.read",
    /// Register operators and manage groups. Superusers only: never granted to a group.
    OperatorsManage = "operators.manage",
    /// Change global settings and plan definitions. Superusers only: never granted to a group.
    SettingsGlobal = "settings.global",
}

impl Permission {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == name)
    }

    /// Held by superusers alone: a group that could grant them could make its members superusers.
    pub fn superuser_only(self) -> bool {
        matches!(self, Self::OperatorsManage | Self::SettingsGlobal)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Some(*permission));
            let json = serde_json::to_string(permission).unwrap();
            assert_eq!(json, format!("\"{permission}\""));
        }
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        assert_eq!(Permission::parse("accounts.delete"), None);
    }
}
