//! An account's customized prompts (id: the account's id), one per prompt type at most.
//!
//! Decisions:
//! - A customization remembers the global version it started from, so a customization whose
//!   default has moved on since can be flagged. The command carries that version and the
//!   type's required variables, as the API read them from the global prompt.
//! - Reset removes the customization: the account follows the published global version from
//!   then on, later ones included (the seeds' `is_customized = False`).
//! - Customizing with the text and starting version in force, and resetting what is not
//!   customized, succeed and record nothing.

use super::prompt::{checked_text, PromptType};
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::InvalidValue;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountPromptsCommand {
    Customize {
        prompt_type: PromptType,
        text: String,
        /// The published global version the customization starts from.
        based_on_version: i32,
        /// The variables the type requires.
        variables: BTreeSet<String>,
    },
    ResetToDefault {
        prompt_type: PromptType,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum AccountPromptsEvent {
    PromptCustomized {
        prompt_type: PromptType,
        text: String,
        based_on_version: i32,
    },
    PromptResetToDefault {
        prompt_type: PromptType,
    },
}

crate::stored_event!(AccountPromptsEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountPromptsError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
}

impl From<InvalidValue> for AccountPromptsError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for AccountPromptsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
        }
    }
}

/// A prompt as the account customized it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customization {
    pub text: String,
    pub based_on_version: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountPrompts {
    customized: BTreeMap<PromptType, Customization>,
}

impl AccountPrompts {
    pub fn customization(&self, prompt_type: &PromptType) -> Option<&Customization> {
        self.customized.get(prompt_type)
    }

    fn decide(
        &self,
        command: AccountPromptsCommand,
    ) -> Result<Option<AccountPromptsEvent>, AccountPromptsError> {
        match command {
            AccountPromptsCommand::Customize {
                prompt_type,
                text,
                based_on_version,
                variables,
            } => {
                let text = checked_text(&text, &variables)?;
                let after = Customization {
                    text,
                    based_on_version,
                };
                if self.customized.get(&prompt_type) == Some(&after) {
                    return Ok(None);
                }
                Ok(Some(AccountPromptsEvent::PromptCustomized {
                    prompt_type,
                    text: after.text,
                    based_on_version,
                }))
            }
            AccountPromptsCommand::ResetToDefault { prompt_type } => Ok(self
                .customized
                .contains_key(&prompt_type)
                .then_some(AccountPromptsEvent::PromptResetToDefault { prompt_type })),
        }
    }
}

impl crate::kit::event::StoredAggregate for AccountPrompts {}

impl Aggregate for AccountPrompts {
    const TYPE: &'static str = "account_prompts";
    type Command = AccountPromptsCommand;
    type Event = AccountPromptsEvent;
    type Error = AccountPromptsError;
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
        match event {
            AccountPromptsEvent::PromptCustomized {
                prompt_type,
                text,
                based_on_version,
            } => {
                self.customized.insert(
                    prompt_type,
                    Customization {
                        text,
                        based_on_version,
                    },
                );
            }
            AccountPromptsEvent::PromptResetToDefault { prompt_type } => {
                self.customized.remove(&prompt_type);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type PromptsTest = TestFramework<AccountPrompts>;

    fn ideas() -> PromptType {
        PromptType::parse("ideas").unwrap()
    }

    fn customize(text: &str, version: i32) -> AccountPromptsCommand {
        AccountPromptsCommand::Customize {
            prompt_type: ideas(),
            text: text.into(),
            based_on_version: version,
            variables: ["keyword".to_string()].into(),
        }
    }

    fn customized(text: &str, version: i32) -> AccountPromptsEvent {
        AccountPromptsEvent::PromptCustomized {
            prompt_type: ideas(),
            text: text.into(),
            based_on_version: version,
        }
    }

    #[test]
    fn a_customization_remembers_its_starting_version() {
        PromptsTest::with(())
            .given_no_previous_events()
            .when(customize("Our ideas on {keyword}", 2))
            .then_expect_events(vec![customized("Our ideas on {keyword}", 2)]);
        PromptsTest::with(())
            .given(vec![customized("Our ideas on {keyword}", 2)])
            .when(customize("Our ideas on {keyword}", 2))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_customization_keeps_the_required_variables() {
        PromptsTest::with(())
            .given_no_previous_events()
            .when(customize("Our ideas", 1))
            .then_expect_error_message(
                "the text must keep the variables this prompt type requires; missing {keyword}",
            );
    }

    #[test]
    fn reset_returns_to_the_default_and_is_safe_to_repeat() {
        PromptsTest::with(())
            .given(vec![customized("Our ideas on {keyword}", 1)])
            .when(AccountPromptsCommand::ResetToDefault {
                prompt_type: ideas(),
            })
            .then_expect_events(vec![AccountPromptsEvent::PromptResetToDefault {
                prompt_type: ideas(),
            }]);
        PromptsTest::with(())
            .given_no_previous_events()
            .when(AccountPromptsCommand::ResetToDefault {
                prompt_type: ideas(),
            })
            .then_expect_events(vec![]);
    }
}
