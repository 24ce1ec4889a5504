//! The platform's integration settings: one instance (id [`GLOBAL_ID`]), changed by superusers
//! only. Per provider: whether it is enabled, its default model and parameters, and its API key.
//!
//! Decisions:
//! - An API key never enters an event in the clear. The API encrypts it first with a data key
//!   of its own (envelope encryption, see `projections::ai_config::keyring`) and the command
//!   carries only the ciphertext, the data key's id and the key's last four characters. Events
//!   name the ciphertext `encrypted_key`, which history, diffs and the audit trail redact.
//! - Setting a new key records which data key it replaces, and removing a key records the data
//!   key it used: both data keys are then destroyed (crypto-shredding), so a key taken out of
//!   service cannot be decrypted from the log, while the log itself stays as written.
//! - Settings are only ever set, never unset: every account without an override relies on them.
//! - Changing nothing, and removing a key that is not set, succeed and record nothing.

use super::provider::{Provider, Settings};
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::InvalidValue;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The one instance's id.
pub const GLOBAL_ID: &str = "global";

/// An API key as the log may hold it: encrypted under a data key that lives outside the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedApiKey {
    /// The data key that encrypts it; destroyed when the key is replaced or removed.
    pub data_key_id: Uuid,
    /// Nonce and ciphertext (AES-256-GCM), hex. Redacted wherever the log is shown.
    pub encrypted_key: String,
    /// The key's last four characters, to tell keys apart.
    pub last4: String,
}

impl SealedApiKey {
    fn check(&self) -> Result<(), InvalidValue> {
        let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
        if !hex(&self.encrypted_key) || self.last4.chars().count() != 4 {
            return Err(InvalidValue("a sealed API key is malformed".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IntegrationSettingsCommand {
    /// The platform's first defaults; a no-op once they exist.
    Initialize {
        providers: Vec<(Provider, bool, Settings)>,
    },
    /// Sets `settings` (leaving the others) and, when given, whether the provider is enabled.
    Configure {
        provider: Provider,
        enabled: Option<bool>,
        settings: Settings,
    },
    /// Sets or rotates the provider's API key.
    SetKey {
        provider: Provider,
        key: SealedApiKey,
    },
    /// Removes the provider's API key; safe to repeat.
    RemoveKey { provider: Provider },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum IntegrationSettingsEvent {
    IntegrationSettingsInitialized {
        providers: BTreeMap<Provider, ProviderDefaults>,
    },
    /// The provider's settings and state after the change, complete.
    ProviderConfigured {
        provider: Provider,
        enabled: bool,
        settings: Settings,
    },
    ApiKeySet {
        provider: Provider,
        key: SealedApiKey,
        /// The data key of the key this one replaces, to be destroyed.
        replaces: Option<Uuid>,
    },
    ApiKeyRemoved {
        provider: Provider,
        /// The removed key's data key, to be destroyed.
        data_key_id: Uuid,
    },
}

crate::stored_event!(IntegrationSettingsEvent);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderDefaults {
    pub enabled: bool,
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationSettingsError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `NOT_FOUND`
    #[error("the integration settings have not been initialised")]
    NotInitialized,
}

impl From<InvalidValue> for IntegrationSettingsError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for IntegrationSettingsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NotInitialized => ErrorCode::NotFound,
        }
    }
}

/// One provider as the settings stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderState {
    pub enabled: bool,
    pub settings: Settings,
    pub key: Option<SealedApiKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationSettings {
    providers: BTreeMap<Provider, ProviderState>,
}

impl IntegrationSettings {
    /// Every provider as the settings stand (none before they are initialised).
    pub fn providers(&self) -> &BTreeMap<Provider, ProviderState> {
        &self.providers
    }

    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(
        &self,
        command: IntegrationSettingsCommand,
    ) -> Result<Option<IntegrationSettingsEvent>, IntegrationSettingsError> {
        use IntegrationSettingsCommand as C;
        use IntegrationSettingsEvent as E;
        if let C::Initialize { providers } = command {
            if !self.providers.is_empty() {
                return Ok(None);
            }
            let providers = providers
                .into_iter()
                .map(|(provider, enabled, settings)| {
                    let settings = provider.check_all(&settings)?;
                    Ok((provider, ProviderDefaults { enabled, settings }))
                })
                .collect::<Result<_, InvalidValue>>()?;
            return Ok(Some(E::IntegrationSettingsInitialized { providers }));
        }
        let state = |provider: Provider| {
            self.providers
                .get(&provider)
                .ok_or(IntegrationSettingsError::NotInitialized)
        };
        match command {
            C::Initialize { .. } => unreachable!("decided above"),
            C::Configure {
                provider,
                enabled,
                settings,
            } => {
                let current = state(provider)?;
                let mut after = current.settings.clone();
                after.extend(provider.check_all(&settings)?);
                let enabled = enabled.unwrap_or(current.enabled);
                if after == current.settings && enabled == current.enabled {
                    return Ok(None);
                }
                Ok(Some(E::ProviderConfigured {
                    provider,
                    enabled,
                    settings: after,
                }))
            }
            C::SetKey { provider, key } => {
                key.check()?;
                let current = state(provider)?;
                let replaces = current.key.as_ref().map(|k| k.data_key_id);
                if replaces == Some(key.data_key_id) {
                    return Ok(None);
                }
                Ok(Some(E::ApiKeySet {
                    provider,
                    key,
                    replaces,
                }))
            }
            C::RemoveKey { provider } => {
                Ok(state(provider)?.key.as_ref().map(|key| E::ApiKeyRemoved {
                    provider,
                    data_key_id: key.data_key_id,
                }))
            }
        }
    }
}

impl crate::kit::event::StoredAggregate for IntegrationSettings {}

impl Aggregate for IntegrationSettings {
    const TYPE: &'static str = "integration_settings";
    type Command = IntegrationSettingsCommand;
    type Event = IntegrationSettingsEvent;
    type Error = IntegrationSettingsError;
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
        use IntegrationSettingsEvent as E;
        match event {
            E::IntegrationSettingsInitialized { providers } => {
                self.providers = providers
                    .into_iter()
                    .map(|(provider, defaults)| {
                        let state = ProviderState {
                            enabled: defaults.enabled,
                            settings: defaults.settings,
                            key: None,
                        };
                        (provider, state)
                    })
                    .collect();
            }
            E::ProviderConfigured {
                provider,
                enabled,
                settings,
            } => {
                if let Some(state) = self.providers.get_mut(&provider) {
                    state.enabled = enabled;
                    state.settings = settings;
                }
            }
            E::ApiKeySet { provider, key, .. } => {
                if let Some(state) = self.providers.get_mut(&provider) {
                    state.key = Some(key);
                }
            }
            E::ApiKeyRemoved { provider, .. } => {
                if let Some(state) = self.providers.get_mut(&provider) {
                    state.key = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai_config::provider::{builtin, Setting};
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    type SettingsTest = TestFramework<IntegrationSettings>;

    fn initialized() -> IntegrationSettingsEvent {
        let providers = builtin()
            .into_iter()
            .map(|(p, enabled, settings)| (p, ProviderDefaults { enabled, settings }))
            .collect();
        IntegrationSettingsEvent::IntegrationSettingsInitialized { providers }
    }

    fn sealed(data_key: u128) -> SealedApiKey {
        SealedApiKey {
            data_key_id: Uuid::from_u128(data_key),
            encrypted_key: "00ff".repeat(8),
            last4: "a1b2".into(),
        }
    }

    #[test]
    fn initialising_twice_records_once() {
        let command = IntegrationSettingsCommand::Initialize {
            providers: builtin(),
        };
        SettingsTest::with(())
            .given_no_previous_events()
            .when(command.clone())
            .then_expect_events(vec![initialized()]);
        SettingsTest::with(())
            .given(vec![initialized()])
            .when(command)
            .then_expect_events(vec![]);
    }

    #[test]
    fn configuring_sets_named_settings_and_keeps_the_others() {
        let mut expected = builtin()[0].2.clone();
        expected.insert(Setting::Model, json!("gpt-4"));
        SettingsTest::with(())
            .given(vec![initialized()])
            .when(IntegrationSettingsCommand::Configure {
                provider: Provider::Openai,
                enabled: None,
                settings: [(Setting::Model, json!(" gpt-4"))].into(),
            })
            .then_expect_events(vec![IntegrationSettingsEvent::ProviderConfigured {
                provider: Provider::Openai,
                enabled: true,
                settings: expected,
            }]);
    }

    #[test]
    fn configuring_to_what_is_in_force_records_nothing() {
        SettingsTest::with(())
            .given(vec![initialized()])
            .when(IntegrationSettingsCommand::Configure {
                provider: Provider::Openai,
                enabled: Some(true),
                settings: [(Setting::Temperature, json!(0.7))].into(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_setting_the_provider_lacks_or_a_bad_value_is_refused() {
        for (setting, value) in [
            (Setting::ImageSize, json!("1024x1024")),
            (Setting::Temperature, json!(7)),
        ] {
            SettingsTest::with(())
                .given(vec![initialized()])
                .when(IntegrationSettingsCommand::Configure {
                    provider: Provider::Openai,
                    enabled: None,
                    settings: [(setting, value)].into(),
                })
                .then_expect_error_message(match setting {
                    Setting::ImageSize => "openai has no setting `image_size`",
                    _ => "openai temperature must be a number from 0 to 2 with at most two decimals, got 7",
                });
        }
    }

    #[test]
    fn nothing_is_configured_before_initialisation() {
        SettingsTest::with(())
            .given_no_previous_events()
            .when(IntegrationSettingsCommand::RemoveKey {
                provider: Provider::Openai,
            })
            .then_expect_error(IntegrationSettingsError::NotInitialized);
    }

    #[test]
    fn rotating_a_key_names_the_data_key_it_replaces() {
        let first = IntegrationSettingsEvent::ApiKeySet {
            provider: Provider::Openai,
            key: sealed(1),
            replaces: None,
        };
        SettingsTest::with(())
            .given(vec![initialized()])
            .when(IntegrationSettingsCommand::SetKey {
                provider: Provider::Openai,
                key: sealed(1),
            })
            .then_expect_events(vec![first.clone()]);
        SettingsTest::with(())
            .given(vec![initialized(), first.clone()])
            .when(IntegrationSettingsCommand::SetKey {
                provider: Provider::Openai,
                key: sealed(2),
            })
            .then_expect_events(vec![IntegrationSettingsEvent::ApiKeySet {
                provider: Provider::Openai,
                key: sealed(2),
                replaces: Some(Uuid::from_u128(1)),
            }]);
        SettingsTest::with(())
            .given(vec![initialized(), first])
            .when(IntegrationSettingsCommand::SetKey {
                provider: Provider::Openai,
                key: sealed(1),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn removing_a_key_names_its_data_key_and_is_safe_to_repeat() {
        let set = IntegrationSettingsEvent::ApiKeySet {
            provider: Provider::Dalle,
            key: sealed(7),
            replaces: None,
        };
        let removed = IntegrationSettingsEvent::ApiKeyRemoved {
            provider: Provider::Dalle,
            data_key_id: Uuid::from_u128(7),
        };
        let remove = IntegrationSettingsCommand::RemoveKey {
            provider: Provider::Dalle,
        };
        SettingsTest::with(())
            .given(vec![initialized(), set.clone()])
            .when(remove.clone())
            .then_expect_events(vec![removed.clone()]);
        SettingsTest::with(())
            .given(vec![initialized(), set, removed])
            .when(remove)
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_malformed_sealed_key_is_refused() {
        let mut key = sealed(1);
        key.encrypted_key = "sk-live-plaintext".into();
        SettingsTest::with(())
            .given(vec![initialized()])
            .when(IntegrationSettingsCommand::SetKey {
                provider: Provider::Openai,
                key,
            })
            .then_expect_error_message("a sealed API key is malformed");
    }
}
