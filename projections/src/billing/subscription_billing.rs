//! Process manager `subscription_billing`: what a subscription's changes cost and grant.
//!
//! - A period that starts (a start, a renewal, an activation that starts a period): the plan's
//!   included credits are granted to the account (expiring the last period's remainder), and a
//!   paid plan's period is invoiced: drafted, issued on the period's first day, due
//!   [`SUBSCRIPTION_TERMS`] later. A trial is granted but not invoiced.
//! - An upgrade: the prorated charge is invoiced and the prorated credits granted.
//! - A cancellation or an expiry: what is left of the period's included credits expires.
//! - The account's plan follows the subscription's (its tier).
//! - A subscription's paid invoice reinstates the subscription if it made it past due.
//!
//! Every step is keyed by the event and the step, or idempotent by itself; refusals go to
//! `read.process_issues`.

use super::invoice_issuing::draft_and_issue;
use crate::store::bus::{CommandBus, CommandContext};
use crate::store::engine::{reaction_to, step, Consumes, HandlerError, ProcessManager, Refusal};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use domain::billing::invoice::{
    Invoice, InvoiceCommand, InvoiceEvent, InvoiceLine, InvoiceSubject, LineKind,
};
use domain::billing::invoice_register::InvoiceRegister;
use domain::billing::subscription::{
    SubscribedPlan, Subscription, SubscriptionCommand, SubscriptionEvent, SubscriptionStatus,
};
use domain::kit::money::{Credits, Money};
use domain::tenancy::account::{Account, AccountCommand};
use uuid::Uuid;

pub const NAME: &str = "subscription_billing";

/// How long a subscription's invoice is payable for.
pub const SUBSCRIPTION_TERMS: Duration = Duration::days(7);

pub struct SubscriptionBilling {
    bus: CommandBus,
}

/// One reaction's steps, keyed by the event they react to.
struct Reaction<'a> {
    bus: &'a CommandBus,
    key: String,
    context: CommandContext,
    subscription_id: Uuid,
    account_id: Uuid,
}

/// Runs steps in order; the first refusal ends the reaction.
macro_rules! steps {
    ($($step:expr),+ $(,)?) => {{
        $(
            if let Some(refused) = $step.await? {
                return Ok(Some(refused));
            }
        )+
        Ok(None)
    }};
}

impl Reaction<'_> {
    async fn account(
        &self,
        name: &str,
        command: AccountCommand,
    ) -> Result<Option<Refusal>, HandlerError> {
        let key = format!("{}:{name}", self.key);
        step::<Account>(self.bus, key, self.account_id, command, &self.context).await
    }

    /// The account's plan is its subscription's tier.
    async fn follow_plan(&self, plan: &SubscribedPlan) -> Result<Option<Refusal>, HandlerError> {
        self.account("plan", AccountCommand::ChangePlan { plan: plan.tier })
            .await
    }

    async fn grant(
        &self,
        plan: &SubscribedPlan,
        period_start: DateTime<Utc>,
        credits: Credits,
    ) -> Result<Option<Refusal>, HandlerError> {
        if credits.get() <= 0 {
            return Ok(None);
        }
        let grant = AccountCommand::GrantIncludedCredits {
            subscription_id: self.subscription_id,
            period_start,
            plan: plan.version_ref(),
            credits,
        };
        self.account("grant", grant).await
    }

    async fn expire(&self, period_start: DateTime<Utc>) -> Result<Option<Refusal>, HandlerError> {
        let expire = AccountCommand::ExpireIncludedCredits {
            subscription_id: self.subscription_id,
            period_start,
        };
        self.account("expire", expire).await
    }

    /// Invoices `line` (nothing when it is free), issued at `issued_at`.
    async fn invoice(
        &self,
        subject: InvoiceSubject,
        currency: &Money,
        line: InvoiceLine,
        issued_at: DateTime<Utc>,
    ) -> Result<Option<Refusal>, HandlerError> {
        if line.amount_minor() <= 0 {
            return Ok(None);
        }
        let invoice_id = Invoice::id_for_subject(&subject);
        let draft = InvoiceCommand::Draft {
            account_id: self.account_id,
            currency: currency.currency.clone(),
            lines: vec![line],
            subject: Some(subject),
        };
        let due_at = issued_at + SUBSCRIPTION_TERMS;
        draft_and_issue(
            self.bus,
            &self.key,
            invoice_id,
            draft,
            issued_at,
            due_at,
            &self.context,
        )
        .await
    }

    /// A period of `plan` from `start` to `end`: its credits, its invoice (unless a trial).
    async fn period(
        &self,
        plan: &SubscribedPlan,
        status: SubscriptionStatus,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Option<Refusal>, HandlerError> {
        let subject = InvoiceSubject::Subscription {
            subscription_id: self.subscription_id,
            period_start: start,
        };
        let line = InvoiceLine {
            kind: LineKind::SubscriptionPeriod,
            description: format!(
                "{} plan, {} to {}",
                plan.name,
                start.format("%Y-%m-%d"),
                end.format("%Y-%m-%d")
            ),
            quantity: 1,
            unit_price_minor: plan.monthly_price.minor_units,
        };
        let billed = status != SubscriptionStatus::Trialing;
        steps!(
            self.follow_plan(plan),
            self.grant(plan, start, plan.included_credits),
            async {
                if billed {
                    self.invoice(subject, &plan.monthly_price, line, start)
                        .await
                } else {
                    Ok(None)
                }
            },
        )
    }
}

impl SubscriptionBilling {
    pub fn new(bus: CommandBus) -> Self {
        Self { bus }
    }

    async fn on_subscription(
        &self,
        event: &RecordedEvent,
        parsed: SubscriptionEvent,
    ) -> Result<Option<Refusal>, HandlerError> {
        use SubscriptionEvent as E;
        let account_id = match &parsed {
            E::SubscriptionStarted { account_id, .. }
            | E::SubscriptionActivated { account_id, .. }
            | E::SubscriptionRenewed { account_id, .. }
            | E::SubscriptionUpgraded { account_id, .. }
            | E::SubscriptionDowngradeScheduled { account_id, .. }
            | E::SubscriptionCancellationScheduled { account_id, .. }
            | E::SubscriptionCancelled { account_id, .. }
            | E::SubscriptionPastDue { account_id, .. }
            | E::SubscriptionExpired { account_id, .. } => *account_id,
        };
        let reaction = Reaction {
            bus: &self.bus,
            key: format!("{NAME}:{}:{}", event.aggregate_id, event.sequence),
            context: reaction_to(event, NAME)?,
            subscription_id: event.aggregate_id.parse()?,
            account_id,
        };
        match parsed {
            E::SubscriptionStarted {
                plan,
                status,
                period_start,
                period_end,
                ..
            }
            | E::SubscriptionRenewed {
                plan,
                status,
                period_start,
                period_end,
                ..
            } => {
                reaction
                    .period(&plan, status, period_start, period_end)
                    .await
            }
            E::SubscriptionActivated {
                plan,
                period_start,
                period_end,
                new_period: true,
                ..
            } => {
                let status = SubscriptionStatus::Active;
                reaction
                    .period(&plan, status, period_start, period_end)
                    .await
            }
            E::SubscriptionUpgraded {
                from,
                to,
                at,
                period_start,
                charge,
                credits,
                ..
            } => {
                let subject = InvoiceSubject::Upgrade {
                    subscription_id: reaction.subscription_id,
                    at,
                };
                let line = InvoiceLine {
                    kind: LineKind::Proration,
                    description: format!(
                        "Upgrade from {} to {} for the rest of the period",
                        from.name, to.name
                    ),
                    quantity: 1,
                    unit_price_minor: charge.minor_units,
                };
                steps!(
                    reaction.follow_plan(&to),
                    reaction.grant(&to, period_start, credits),
                    reaction.invoice(subject, &charge, line, at),
                )
            }
            E::SubscriptionCancelled { period_start, .. }
            | E::SubscriptionExpired { period_start, .. } => reaction.expire(period_start).await,
            E::SubscriptionActivated { .. }
            | E::SubscriptionDowngradeScheduled { .. }
            | E::SubscriptionCancellationScheduled { .. }
            | E::SubscriptionPastDue { .. } => Ok(None),
        }
    }
}

#[async_trait]
impl ProcessManager for SubscriptionBilling {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Subscription::TYPE, Invoice::TYPE])
    }

    fn emits(&self) -> &'static [&'static str] {
        &[
            Account::TYPE,
            Invoice::TYPE,
            InvoiceRegister::TYPE,
            Subscription::TYPE,
        ]
    }

    /// By subscription (one per account): its reactions touch its account, its invoices and
    /// itself only (invoice numbers are assigned one at a time, see `issue`).
    fn partition(&self, event: &RecordedEvent) -> Result<Option<Uuid>, HandlerError> {
        if event.aggregate_type == Subscription::TYPE {
            return Ok(Some(event.aggregate_id.parse()?));
        }
        paid_for(event)
    }

    async fn react(&self, event: &RecordedEvent) -> Result<Option<Refusal>, HandlerError> {
        if event.aggregate_type == Subscription::TYPE {
            return match event.decode::<SubscriptionEvent>()? {
                Some(parsed) => self.on_subscription(event, parsed).await,
                None => Ok(None),
            };
        }
        let Some(subscription_id) = paid_for(event)? else {
            return Ok(None);
        };
        let invoice_id: Uuid = event.aggregate_id.parse()?;
        let key = format!("{NAME}:{}:{}:reinstate", event.aggregate_id, event.sequence);
        let reinstate = SubscriptionCommand::Reinstate { invoice_id };
        let context = reaction_to(event, NAME)?;
        step::<Subscription>(&self.bus, key, subscription_id, reinstate, &context).await
    }
}

/// The subscription a paid invoice was for, when `event` is one: only a subscription's invoice
/// can have made it past due.
fn paid_for(event: &RecordedEvent) -> Result<Option<Uuid>, HandlerError> {
    Ok(match event.decode::<InvoiceEvent>()? {
        Some(InvoiceEvent::InvoicePaid {
            subject:
                Some(
                    InvoiceSubject::Subscription {
                        subscription_id, ..
                    }
                    | InvoiceSubject::Upgrade {
                        subscription_id, ..
                    },
                ),
            ..
        }) => Some(subscription_id),
        _ => None,
    })
}
