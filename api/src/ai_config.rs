//! AI configuration at start-up: the platform's integration settings (the seeds' defaults, no
//! keys), its prompt library and its library of author profiles and content strategies exist
//! from the first start.

use domain::ai_config::integration_settings::{
    IntegrationSettings, IntegrationSettingsCommand, GLOBAL_ID,
};
use domain::ai_config::prompt::{self, GlobalPrompt, PromptCommand, PromptError};
use domain::ai_config::provider;
use domain::ai_config::template::{self, Template, TemplateCommand, TemplateError};
use domain::kit::actor::Actor;
use projections::{CommandBus, CommandContext, CommandError};

/// Records the default integration settings once; later starts append nothing, and settings
/// changed since stay.
pub async fn ensure_integration_settings(bus: &CommandBus) -> anyhow::Result<()> {
    let context = CommandContext::new(Actor::system("bootstrap"))
        .with_idempotency_key("bootstrap:integration-settings")
        .with_reason("the platform's default AI settings");
    let initialize = IntegrationSettingsCommand::Initialize {
        providers: provider::builtin(),
    };
    bus.execute::<IntegrationSettings>(GLOBAL_ID, initialize, &context)
        .await?;
    Ok(())
}

/// Creates the built-in prompt types once (their first version published); later starts
/// append nothing, and versions saved since stay.
pub async fn ensure_builtin_prompts(bus: &CommandBus) -> anyhow::Result<()> {
    for (prompt_type, description, variables, text) in prompt::builtin() {
        let id = GlobalPrompt::id_for(&prompt_type);
        let context = CommandContext::new(Actor::system("bootstrap"))
            .with_idempotency_key(format!("bootstrap:prompt:{id}"))
            .with_reason("a built-in prompt");
        let create = PromptCommand::Create {
            prompt_type,
            description,
            variables,
            text,
        };
        match bus
            .execute::<GlobalPrompt>(&id.to_string(), create, &context)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(PromptError::AlreadyExists)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Creates the library's author profiles and content strategies once; later starts append
/// nothing, and revisions since stay.
pub async fn ensure_builtin_templates(bus: &CommandBus) -> anyhow::Result<()> {
    for terms in template::builtin() {
        let id = template::library_id(&terms);
        let context = CommandContext::new(Actor::system("bootstrap"))
            .with_idempotency_key(format!("bootstrap:template:{id}"))
            .with_reason("a built-in template");
        let create = TemplateCommand::Create {
            account_id: None,
            terms,
            cloned_from: None,
        };
        match bus
            .execute::<Template>(&id.to_string(), create, &context)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(TemplateError::AlreadyExists)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
