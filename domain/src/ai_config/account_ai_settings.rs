//! An account's overrides of the platform's AI settings (id: the account's id): per provider,
//! a model and parameters of its own. Never a key: keys are platform-wide, and no setting here
//! can hold one.
//!
//! Decisions:
//! - Only a plan that allows overrides may set them (never Free): the command carries the
//!   account's plan as the API found it, and a plan that forbids them is `PLAN_FORBIDS`.
//!   Clearing is always allowed.
//! - Overrides outlive a move to a plan that forbids them: they are kept, and whether they
//!   apply is decided where the effective configuration is read, from the account's plan at
//!   that moment (so they apply again when the account moves back).
//! - Changing nothing records nothing.

use super::provider::{Provider, Setting, Settings};
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::InvalidValue;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The account's plan, as far as overrides care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanGate {
    /// The plan's code (`free`, `starter`, ...).
    pub plan: String,
    pub overrides_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountAiSettingsCommand {
    /// Sets `set` and removes `clear` from the provider's overrides.
    Override {
        provider: Provider,
        set: Settings,
        clear: Vec<Setting>,
        plan: PlanGate,
    },
    /// Removes every override of the provider: it follows the platform's settings again.
    Reset { provider: Provider },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum AccountAiSettingsEvent {
    /// The provider's overrides after the change, complete (empty: none left).
    AiOverridesChanged {
        provider: Provider,
        settings: Settings,
    },
}

crate::stored_event!(AccountAiSettingsEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountAiSettingsError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `PLAN_FORBIDS`
    #[error("the account's plan ({0}) does not allow overriding AI settings; upgrade to a paid plan first")]
    PlanForbids(String),
}

impl From<InvalidValue> for AccountAiSettingsError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for AccountAiSettingsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::PlanForbids(_) => ErrorCode::PlanForbids,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountAiSettings {
    overrides: BTreeMap<Provider, Settings>,
}

impl AccountAiSettings {
    /// The overrides as they stand, by provider.
    pub fn overrides(&self) -> &BTreeMap<Provider, Settings> {
        &self.overrides
    }

    fn decide(
        &self,
        command: AccountAiSettingsCommand,
    ) -> Result<Option<AccountAiSettingsEvent>, AccountAiSettingsError> {
        let (provider, settings) = match command {
            AccountAiSettingsCommand::Override {
                provider,
                set,
                clear,
                plan,
            } => {
                if let Some(both) = clear.iter().find(|s| set.contains_key(s)) {
                    return Err(AccountAiSettingsError::Invalid(format!(
                        "`{both}` cannot be both set and cleared"
                    )));
                }
                if !set.is_empty() && !plan.overrides_allowed {
                    return Err(AccountAiSettingsError::PlanForbids(plan.plan));
                }
                let mut after = self.overrides.get(&provider).cloned().unwrap_or_default();
                for setting in &clear {
                    if !provider.settings().contains(setting) {
                        return Err(AccountAiSettingsError::Invalid(format!(
                            "{provider} has no setting `{setting}`"
                        )));
                    }
                    after.remove(setting);
                }
                after.extend(provider.check_all(&set)?);
                (provider, after)
            }
            AccountAiSettingsCommand::Reset { provider } => (provider, Settings::new()),
        };
        let before = self.overrides.get(&provider).cloned().unwrap_or_default();
        if settings == before {
            return Ok(None);
        }
        Ok(Some(AccountAiSettingsEvent::AiOverridesChanged {
            provider,
            settings,
        }))
    }
}

impl crate::kit::event::StoredAggregate for AccountAiSettings {}

impl Aggregate for AccountAiSettings {
    const TYPE: &'static str = "account_ai_settings";
    type Command = AccountAiSettingsCommand;
    type Event = AccountAiSettingsEvent;
    type Error = AccountAiSettingsError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let AccountAiSettingsEvent::AiOverridesChanged { provider, settings } = event;
        if settings.is_empty() {
            self.overrides.remove(&provider);
        } else {
            self.overrides.insert(provider, settings);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    type OverridesTest = TestFramework<AccountAiSettings>;

    fn plan(allowed: bool) -> PlanGate {
        PlanGate {
            plan: if allowed { "starter" } else { "free" }.into(),
            overrides_allowed: allowed,
        }
    }

    fn changed(pairs: &[(Setting, serde_json::Value)]) -> AccountAiSettingsEvent {
        AccountAiSettingsEvent::AiOverridesChanged {
            provider: Provider::Openai,
            settings: pairs.iter().cloned().collect(),
        }
    }

    fn set(
        pairs: &[(Setting, serde_json::Value)],
        clear: &[Setting],
        allowed: bool,
    ) -> AccountAiSettingsCommand {
        AccountAiSettingsCommand::Override {
            provider: Provider::Openai,
            set: pairs.iter().cloned().collect(),
            clear: clear.to_vec(),
            plan: plan(allowed),
        }
    }

    #[test]
    fn a_paid_plan_overrides_model_and_parameters() {
        OverridesTest::with(())
            .given_no_previous_events()
            .when(set(
                &[
                    (Setting::Model, json!("gpt-4")),
                    (Setting::Temperature, json!(0.8)),
                ],
                &[],
                true,
            ))
            .then_expect_events(vec![changed(&[
                (Setting::Model, json!("gpt-4")),
                (Setting::Temperature, json!(0.8)),
            ])]);
    }

    #[test]
    fn a_plan_that_forbids_overrides_is_refused_but_may_clear_them() {
        OverridesTest::with(())
            .given_no_previous_events()
            .when(set(&[(Setting::Model, json!("gpt-4"))], &[], false))
            .then_expect_error(AccountAiSettingsError::PlanForbids("free".into()));
        OverridesTest::with(())
            .given(vec![changed(&[(Setting::Model, json!("gpt-4"))])])
            .when(set(&[], &[Setting::Model], false))
            .then_expect_events(vec![changed(&[])]);
    }

    #[test]
    fn clearing_and_setting_keep_the_rest() {
        OverridesTest::with(())
            .given(vec![changed(&[
                (Setting::Model, json!("gpt-4")),
                (Setting::Temperature, json!(0.8)),
            ])])
            .when(set(
                &[(Setting::MaxTokens, json!(2000))],
                &[Setting::Model],
                true,
            ))
            .then_expect_events(vec![changed(&[
                (Setting::Temperature, json!(0.8)),
                (Setting::MaxTokens, json!(2000)),
            ])]);
    }

    #[test]
    fn changing_nothing_records_nothing() {
        OverridesTest::with(())
            .given(vec![changed(&[(Setting::Model, json!("gpt-4"))])])
            .when(set(&[(Setting::Model, json!("gpt-4"))], &[], true))
            .then_expect_events(vec![]);
        OverridesTest::with(())
            .given_no_previous_events()
            .when(AccountAiSettingsCommand::Reset {
                provider: Provider::Dalle,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn reset_removes_every_override_of_the_provider() {
        OverridesTest::with(())
            .given(vec![changed(&[(Setting::Model, json!("gpt-4"))])])
            .when(AccountAiSettingsCommand::Reset {
                provider: Provider::Openai,
            })
            .then_expect_events(vec![changed(&[])]);
    }

    #[test]
    fn bad_values_and_settings_the_provider_lacks_are_refused() {
        OverridesTest::with(())
            .given_no_previous_events()
            .when(set(&[(Setting::ImageStyle, json!("vivid"))], &[], true))
            .then_expect_error_message("openai has no setting `image_style`");
        OverridesTest::with(())
            .given_no_previous_events()
            .when(set(&[], &[Setting::ImageStyle], true))
            .then_expect_error_message("openai has no setting `image_style`");
        OverridesTest::with(())
            .given_no_previous_events()
            .when(set(
                &[(Setting::Model, json!("x"))],
                &[Setting::Model],
                true,
            ))
            .then_expect_error_message("`model` cannot be both set and cleared");
    }
}
