//! AI configuration's read models (`ai_settings`, `prompts`, `templates`) and the keyring that encrypts, and destroys,
//! the providers' API keys.

pub mod ai_settings;
pub mod keyring;
pub mod prompts;
pub mod templates;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::ai_config::account_ai_settings::AccountAiSettings;
use domain::ai_config::account_prompts::AccountPrompts;
use domain::ai_config::integration_settings::IntegrationSettings;
use domain::ai_config::prompt::GlobalPrompt;
use domain::ai_config::template::Template;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![
        chronicle_of::<IntegrationSettings>(),
        chronicle_of::<AccountAiSettings>(),
        chronicle_of::<GlobalPrompt>(),
        chronicle_of::<AccountPrompts>(),
        chronicle_of::<Template>(),
    ]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(ai_settings::AiSettingsProjection),
        Arc::new(prompts::PromptsProjection),
        Arc::new(templates::TemplatesProjection),
    ]
}
