//! AI configuration: the platform's integration settings (providers, default models and
//! parameters, encrypted API keys) and each account's overrides of models and parameters.

pub mod account_ai_settings;
pub mod integration_settings;
pub mod provider;
