//! AI configuration at start-up: the platform's integration settings exist from the first
//! start, with the seeds' defaults and no keys.

use domain::ai_config::integration_settings::{
    IntegrationSettings, IntegrationSettingsCommand, GLOBAL_ID,
};
use domain::ai_config::provider;
use domain::kit::actor::Actor;
use projections::{CommandBus, CommandContext};

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
