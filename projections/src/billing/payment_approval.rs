//! Process manager `payment_approval`: what follows when a manual payment is recorded, approved
//! or refunded.
//!
//! Recorded for a credit package: the package's invoice is drafted, locked and numbered, so it
//! is pending before the payment can be approved (this manager reacts in log order).
//! Approval: grant the purchased credits, mark the invoice paid, activate the account if it was
//! suspended. Refund: reverse the credits, mark the invoice refunded. Each step is an ordinary
//! command with an idempotency key derived from the payment and the step (or idempotent by
//! itself), so replays, retries and crashes never act twice.
//!
//! A step its target refuses (e.g. the account was deleted meanwhile) is recorded in
//! `read.process_issues` for a person to resolve, and the manager moves on; infrastructure
//! failures fail the batch, which is retried.

use super::invoice_issuing::draft_and_issue;
use crate::store::bus::{CommandBus, CommandContext};
use crate::store::engine::{reaction_to, step, Consumes, HandlerError, ProcessManager, Refusal};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::Duration;
use cqrs_es::Aggregate;
use domain::billing::invoice::{Invoice, InvoiceCommand, InvoiceLine, InvoiceSubject, LineKind};
use domain::billing::invoice_register::InvoiceRegister;
use domain::billing::payment::{Payment, PaymentEvent};
use domain::kit::error::Coded;
use domain::kit::event::{StoredAggregate, StoredEvent};
use domain::tenancy::account::{Account, AccountCommand};
use uuid::Uuid;

pub const NAME: &str = "payment_approval";

/// How long a credit package's invoice is payable for.
const PACKAGE_TERMS: Duration = Duration::days(14);

pub struct PaymentApproval {
    bus: CommandBus,
}

impl PaymentApproval {
    pub fn new(bus: CommandBus) -> Self {
        Self { bus }
    }

    /// Runs one step, keyed by the payment and the step's name; `Some` when it was refused.
    async fn step<A>(
        &self,
        payment_id: Uuid,
        name: &str,
        aggregate_id: Uuid,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<Option<Refusal>, HandlerError>
    where
        A: StoredAggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
        A::Error: Coded + std::error::Error + Send + Sync + 'static,
    {
        let key = format!("{NAME}:{payment_id}:{name}");
        step::<A>(&self.bus, key, aggregate_id, command, context).await
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
        &[Account::TYPE, Invoice::TYPE, InvoiceRegister::TYPE]
    }

    /// By account: a payment's steps touch its account and invoices only.
    fn partition(&self, event: &RecordedEvent) -> Result<Option<Uuid>, HandlerError> {
        Ok(event.decode::<PaymentEvent>()?.map(|parsed| match parsed {
            PaymentEvent::PaymentRecorded { account_id, .. }
            | PaymentEvent::PaymentApproved { account_id, .. }
            | PaymentEvent::PaymentRejected { account_id, .. }
            | PaymentEvent::PaymentRefunded { account_id, .. } => account_id,
        }))
    }

    async fn react(&self, event: &RecordedEvent) -> Result<Option<Refusal>, HandlerError> {
        let Some(parsed) = event.decode::<PaymentEvent>()? else {
            return Ok(None);
        };
        let payment_id: Uuid = event.aggregate_id.parse()?;
        let context = reaction_to(event, NAME)?;
        match parsed {
            PaymentEvent::PaymentRecorded {
                account_id,
                amount,
                credits,
                invoice_id: Some(invoice_id),
                package: Some(package),
                ..
            } => {
                let draft = InvoiceCommand::Draft {
                    account_id,
                    currency: amount.currency.clone(),
                    lines: vec![InvoiceLine {
                        kind: LineKind::CreditPackage,
                        description: format!("Credit package: {credits} credits"),
                        quantity: 1,
                        unit_price_minor: amount.minor_units,
                    }],
                    subject: Some(InvoiceSubject::CreditPackage {
                        package_id: package.package_id,
                        version: package.version,
                    }),
                };
                let issued_at = event.metadata()?.occurred_at;
                draft_and_issue(
                    &self.bus,
                    &format!("{NAME}:{payment_id}"),
                    invoice_id,
                    draft,
                    issued_at,
                    issued_at + PACKAGE_TERMS,
                    &context,
                )
                .await
            }
            PaymentEvent::PaymentApproved {
                account_id,
                credits,
                invoice_id,
                ..
            } => {
                if credits.get() > 0 {
                    let grant = AccountCommand::GrantPurchasedCredits {
                        payment_id,
                        credits,
                    };
                    let step =
                        self.step::<Account>(payment_id, "grant", account_id, grant, &context);
                    if let Some(refused) = step.await? {
                        return Ok(Some(refused));
                    }
                }
                if let Some(invoice_id) = invoice_id {
                    let paid = InvoiceCommand::MarkPaid {
                        payment_id: Some(payment_id),
                    };
                    let step = self.step::<Invoice>(
                        payment_id,
                        "invoice-paid",
                        invoice_id,
                        paid,
                        &context,
                    );
                    if let Some(refused) = step.await? {
                        return Ok(Some(refused));
                    }
                }
                let activate = AccountCommand::Activate;
                self.step::<Account>(payment_id, "activate", account_id, activate, &context)
                    .await
            }
            PaymentEvent::PaymentRefunded {
                account_id,
                credits,
                reason,
                invoice_id,
                ..
            } => {
                if credits.get() > 0 {
                    let reverse = AccountCommand::ReverseRefundedCredits {
                        payment_id,
                        credits,
                        reason,
                    };
                    let step =
                        self.step::<Account>(payment_id, "reverse", account_id, reverse, &context);
                    if let Some(refused) = step.await? {
                        return Ok(Some(refused));
                    }
                }
                match invoice_id {
                    Some(invoice_id) => {
                        let refund = InvoiceCommand::Refund { payment_id };
                        self.step::<Invoice>(
                            payment_id,
                            "invoice-refund",
                            invoice_id,
                            refund,
                            &context,
                        )
                        .await
                    }
                    None => Ok(None),
                }
            }
            PaymentEvent::PaymentRecorded { .. } | PaymentEvent::PaymentRejected { .. } => Ok(None),
        }
    }
}
