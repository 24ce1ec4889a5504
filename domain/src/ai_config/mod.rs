//! AI configuration: the platform's integration settings (providers, default models and
//! parameters, encrypted API keys) and each account's overrides of models and parameters; the
//! prompt library (versioned global prompts) and each account's customized prompts; author
//! profiles and content strategies (templates: a library, and accounts' clones and own).

pub mod account_ai_settings;
pub mod account_prompts;
pub mod integration_settings;
pub mod prompt;
pub mod provider;
pub mod template;
