//! Bootstrapping identity: operators from the command line, and the built-in staff groups.

use crate::auth;
use domain::identity::group::{self, Group, GroupCommand, GroupError};
use domain::identity::operator::{Operator, OperatorCommand, OperatorError};
use domain::kit::values::{DisplayName, Email, Label};
use domain::Actor;
use projections::{CommandBus, CommandContext, CommandError, Engine};
use uuid::Uuid;

pub struct Created {
    pub operator_id: Uuid,
    pub newly_registered: bool,
    pub token: String,
}

/// Registers the operator unless they exist, issues a fresh token, and brings the `operators`
/// read model up to date so the token works at once, with or without a running server.
pub async fn create_with_token(
    bus: &CommandBus,
    engine: &Engine,
    email: &str,
    display_name: Option<&str>,
    superuser: bool,
    service: bool,
) -> anyhow::Result<Created> {
    let email = Email::parse(email)?;
    let display_name = match display_name {
        Some(name) => DisplayName::parse(name)?,
        None => DisplayName::parse(email.as_str().split('@').next().unwrap_or("operator"))?,
    };
    let operator_id = Operator::id_for(&email);
    let id = operator_id.to_string();
    let context = CommandContext::new(Actor::system("cli"));
    let register = OperatorCommand::Register {
        email,
        display_name,
        superuser,
        service,
    };
    let newly_registered = match bus.execute::<Operator>(&id, register, &context).await {
        Ok(_) => true,
        Err(CommandError::Rejected(OperatorError::AlreadyRegistered)) => false,
        Err(e) => return Err(e.into()),
    };
    let (token, token_hash) = auth::new_token();
    let issue = OperatorCommand::IssueToken {
        token_id: Uuid::now_v7(),
        token_hash,
        label: Label::parse("created by igny8-admin create-operator")?,
    };
    bus.execute::<Operator>(&id, issue, &context).await?;
    // The token is recorded either way; it works once the operators projection shows it.
    if let Err(error) = engine
        .catch_up(projections::identity::operators::NAME)
        .await
    {
        tracing::warn!(%error, "the operators projection is not up to date; the token works once it is");
    }
    Ok(Created {
        operator_id,
        newly_registered,
        token,
    })
}

/// The staff roles every installation starts with (`domain::identity::group::builtin`), created
/// on the first start; later starts append nothing, and a group a superuser has since changed
/// keeps its changes.
pub async fn ensure_builtin_groups(bus: &CommandBus) -> anyhow::Result<()> {
    for (name, permissions) in group::builtin() {
        let context = CommandContext::new(Actor::system("bootstrap"))
            .with_idempotency_key(format!("bootstrap:group:{}", Group::id_for(&name)))
            .with_reason("a built-in staff role");
        let id = Group::id_for(&name).to_string();
        match bus
            .execute::<Group>(&id, GroupCommand::Create { name, permissions }, &context)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(GroupError::AlreadyExists)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
