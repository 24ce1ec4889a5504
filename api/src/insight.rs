//! Bootstrapping insight: the alert rules every installation starts with.

use domain::insight::alert_rule::{self, AlertRule, AlertRuleCommand, AlertRuleError};
use domain::Actor;
use projections::{CommandBus, CommandContext, CommandError};

/// The built-in alert rules (`domain::insight::alert_rule::builtin`), defined by the system
/// actor on the first start; later starts append nothing, and a rule a superuser has since
/// changed or disabled stays as they left it.
pub async fn ensure_builtin_alert_rules(bus: &CommandBus) -> anyhow::Result<()> {
    for (key, spec) in alert_rule::builtin() {
        let id = AlertRule::id_for(key);
        let context = CommandContext::new(Actor::system("bootstrap"))
            .with_idempotency_key(format!("bootstrap:alert-rule:{id}"))
            .with_reason("a built-in alert rule");
        match bus
            .execute::<AlertRule>(&id.to_string(), AlertRuleCommand::Define(spec), &context)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(AlertRuleError::AlreadyDefined)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
