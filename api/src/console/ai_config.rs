//! Pages of the `ai_config` context.

pub mod prompts;
pub mod providers;
pub mod templates;
