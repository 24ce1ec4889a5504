//! Process manager `dunning`: what an unpaid invoice's dunning stages call for.
//!
//! - `overdue`: a subscription's invoice makes the subscription past due; a reminder is
//!   recorded.
//! - `late_fee`: the fee the invoice recorded is billed as its own invoice (a `LATE_FEE` line,
//!   due like a subscription's), the overdue invoice records it for overdue period 1, and a
//!   reminder is recorded.
//! - `suspension`: the account is suspended (the grace period is over). Paying the invoice
//!   through an approved payment activates the account again (`payment_approval`) and
//!   reinstates the subscription (`subscription_billing`).
//!
//! Steps are keyed by the invoice and the stage; refusals go to `read.process_issues`. An
//! account already suspended, or deleted, is left as it is.

use super::invoice_issuing::draft_and_issue;
use super::subscription_billing::SUBSCRIPTION_TERMS;
use crate::store::bus::{CommandBus, CommandError};
use crate::store::engine::{reaction_to, step, Consumes, HandlerError, ProcessManager, Refusal};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::billing::invoice::{
    DunningStage, Invoice, InvoiceCommand, InvoiceEvent, InvoiceLine, InvoiceSubject, LineKind,
};
use domain::billing::invoice_register::InvoiceRegister;
use domain::billing::subscription::{Subscription, SubscriptionCommand};
use domain::kit::values::Reason;
use domain::tenancy::account::{Account, AccountCommand, AccountError};
use uuid::Uuid;

pub const NAME: &str = "dunning";

/// The overdue period a dunning late fee is charged for: one per invoice.
const LATE_FEE_PERIOD: i32 = 1;

pub struct Dunning {
    bus: CommandBus,
}

impl Dunning {
    pub fn new(bus: CommandBus) -> Self {
        Self { bus }
    }
}

/// The subscription an invoice bills, if it does.
fn subscription_of(subject: &Option<InvoiceSubject>) -> Option<Uuid> {
    match subject {
        Some(InvoiceSubject::Subscription {
            subscription_id, ..
        })
        | Some(InvoiceSubject::Upgrade {
            subscription_id, ..
        }) => Some(*subscription_id),
        _ => None,
    }
}

#[async_trait]
impl ProcessManager for Dunning {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Invoice::TYPE])
    }

    fn emits(&self) -> &'static [&'static str] {
        &[
            Account::TYPE,
            Invoice::TYPE,
            InvoiceRegister::TYPE,
            Subscription::TYPE,
        ]
    }

    async fn react(&self, event: &RecordedEvent) -> Result<Option<Refusal>, HandlerError> {
        let Some(InvoiceEvent::InvoiceDunned {
            account_id,
            stage,
            subject,
            late_fee,
            total,
            ..
        }) = event.decode::<InvoiceEvent>()?
        else {
            return Ok(None);
        };
        let invoice_id: Uuid = event.aggregate_id.parse()?;
        let context = reaction_to(event, NAME)?;
        let at = event.metadata()?.occurred_at;
        let key = |name: &str| format!("{NAME}:{invoice_id}:{stage}:{name}");
        let remind = || {
            let reminder = InvoiceCommand::SendReminder {
                on: at.date_naive(),
            };
            step::<Invoice>(&self.bus, key("reminder"), invoice_id, reminder, &context)
        };
        match stage {
            DunningStage::Overdue => {
                if let Some(subscription_id) = subscription_of(&subject) {
                    let past_due = SubscriptionCommand::MarkPastDue { invoice_id };
                    let marked = step::<Subscription>(
                        &self.bus,
                        key("past-due"),
                        subscription_id,
                        past_due,
                        &context,
                    );
                    if let Some(refused) = marked.await? {
                        return Ok(Some(refused));
                    }
                }
                remind().await
            }
            DunningStage::LateFee => {
                if let Some(fee) = late_fee {
                    let fee_subject = InvoiceSubject::LateFee {
                        invoice_id,
                        period: LATE_FEE_PERIOD,
                    };
                    let fee_invoice_id = Invoice::id_for_subject(&fee_subject);
                    let draft = InvoiceCommand::Draft {
                        account_id,
                        currency: fee.currency.clone(),
                        lines: vec![InvoiceLine {
                            kind: LineKind::LateFee,
                            description: format!(
                                "Late fee on an invoice of {total} unpaid past its due date"
                            ),
                            quantity: 1,
                            unit_price_minor: fee.minor_units,
                        }],
                        subject: Some(fee_subject),
                    };
                    let fee_key = key("fee");
                    let billed = draft_and_issue(
                        &self.bus,
                        &fee_key,
                        fee_invoice_id,
                        draft,
                        at,
                        at + SUBSCRIPTION_TERMS,
                        &context,
                    );
                    if let Some(refused) = billed.await? {
                        return Ok(Some(refused));
                    }
                    let applied = InvoiceCommand::ApplyLateFee {
                        period: LATE_FEE_PERIOD,
                        fee_invoice_id,
                    };
                    let recorded =
                        step::<Invoice>(&self.bus, key("applied"), invoice_id, applied, &context);
                    if let Some(refused) = recorded.await? {
                        return Ok(Some(refused));
                    }
                }
                remind().await
            }
            DunningStage::Suspension => {
                let reason = Reason::parse(&format!(
                    "invoice {invoice_id} is unpaid at the end of its grace period"
                ))?;
                let mut context = context.clone();
                context.idempotency_key = Some(key("suspend"));
                let suspend = AccountCommand::Suspend { reason };
                match self
                    .bus
                    .execute::<Account>(&account_id.to_string(), suspend, &context)
                    .await
                {
                    Ok(_)
                    | Err(CommandError::Rejected(
                        AccountError::AlreadySuspended | AccountError::Deleted,
                    )) => Ok(None),
                    Err(CommandError::Rejected(refusal)) => Ok(Some(Refusal {
                        code: domain::kit::error::Coded::code(&refusal),
                        message: format!("{} on account {account_id}: {refusal}", key("suspend")),
                    })),
                    Err(other) => Err(Box::new(other)),
                }
            }
        }
    }
}
