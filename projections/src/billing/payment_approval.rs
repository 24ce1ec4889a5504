//! Process manager `payment_approval`: what follows when a manual payment is approved or
//! refunded.
//!
//! Approval: grant the purchased credits to the account, then activate the account if it was
//! suspended. Refund: reverse the credits. Each step is an ordinary command with an idempotency
//! key derived from the payment and the step, so replays, retries and crashes never act twice.
//! Further steps (mark the invoice paid, activate the subscription) are further entries in
//! `steps`.
//!
//! A step the account refuses (e.g. it was deleted meanwhile) is recorded in
//! `read.process_issues` for a person to resolve, and the manager moves on; infrastructure
//! failures fail the batch, which is retried.

use crate::store::bus::{CommandBus, CommandContext, CommandError};
use crate::store::engine::{Consumes, HandlerError, ProcessManager, Refusal};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::billing::payment::{Payment, PaymentEvent};
use domain::kit::error::Coded;
use domain::tenancy::account::{Account, AccountCommand};
use domain::Actor;
use uuid::Uuid;

pub const NAME: &str = "payment_approval";

pub struct PaymentApproval {
    bus: CommandBus,
}

impl PaymentApproval {
    pub fn new(bus: CommandBus) -> Self {
        Self { bus }
    }
}

/// The commands a payment event calls for, each named for its idempotency key.
fn steps(
    payment_id: Uuid,
    event: PaymentEvent,
) -> (Option<Uuid>, Vec<(&'static str, AccountCommand)>) {
    match event {
        PaymentEvent::PaymentApproved {
            account_id,
            credits,
            ..
        } => (
            Some(account_id),
            vec![
                (
                    "grant",
                    AccountCommand::GrantPurchasedCredits {
                        payment_id,
                        credits,
                    },
                ),
                ("activate", AccountCommand::Activate),
            ],
        ),
        PaymentEvent::PaymentRefunded {
            account_id,
            credits,
            reason,
            ..
        } => (
            Some(account_id),
            vec![(
                "reverse",
                AccountCommand::ReverseRefundedCredits {
                    payment_id,
                    credits,
                    reason,
                },
            )],
        ),
        PaymentEvent::PaymentRecorded { .. } | PaymentEvent::PaymentRejected { .. } => {
            (None, Vec::new())
        }
    }
}

#[async_trait]
impl ProcessManager for PaymentApproval {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Payment::TYPE])
    }

    fn emits(&self) -> &'static [&'static str] {
        &[Account::TYPE]
    }

    async fn react(&self, event: &RecordedEvent) -> Result<Option<Refusal>, HandlerError> {
        let Some(parsed) = event.decode::<PaymentEvent>()? else {
            return Ok(None);
        };
        let payment_id: Uuid = event.aggregate_id.parse()?;
        let (Some(account_id), steps) = steps(payment_id, parsed) else {
            return Ok(None);
        };
        let metadata = event.metadata()?;
        for (step, command) in steps {
            let mut context = CommandContext::new(Actor::system(NAME));
            context.request_id = metadata.request_id.clone();
            context.correlation_id = Some(metadata.correlation_id.clone());
            context.causation_id = Some(format!("event:{}", event.at.position));
            context.occurred_at = Some(metadata.occurred_at);
            context.idempotency_key = Some(format!("{NAME}:{payment_id}:{step}"));
            match self
                .bus
                .execute::<Account>(&account_id.to_string(), command, &context)
                .await
            {
                Ok(_) => {}
                Err(CommandError::Rejected(refusal)) => {
                    return Ok(Some(Refusal {
                        code: refusal.code(),
                        message: format!(
                            "payment {payment_id}, step {step} for account {account_id}: {refusal}"
                        ),
                    }))
                }
                Err(other) => return Err(Box::new(other)),
            }
        }
        Ok(None)
    }
}
