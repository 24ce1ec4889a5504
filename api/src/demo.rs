//! `igny8-admin seed-demo`: a living system for newcomers, built through the command path.
//!
//! A few hundred accounts over the four plans, manual payments in every state, and a year of
//! ledger activity and billing: every account subscribes to its plan when it opens, the
//! scheduler renews and dunns as the days pass, and most accounts pay their invoices within a
//! few days, some late (after a late fee), a few never (and are suspended). Business times are
//! spread over the year (the seeder is a system principal, so it may backdate), so date
//! filters and reports show history. Every command carries an idempotency key derived from
//! what it seeds, so running the seeder twice changes nothing the second time.

mod activity;

use crate::error::ApiError;
use crate::tenancy;
use chrono::{DateTime, Duration, Utc};
use domain::ai_config::account_ai_settings::{
    AccountAiSettings, AccountAiSettingsCommand, PlanGate,
};
use domain::ai_config::account_prompts::{AccountPrompts, AccountPromptsCommand};
use domain::ai_config::prompt::{GlobalPrompt, PromptType};
use domain::ai_config::provider::{Provider, Setting};
use domain::ai_config::template::{self, Template, TemplateCommand, TemplateRef};
use domain::billing::invoice::LateFeePolicy;
use domain::billing::payment::{Payment, PaymentCommand, PaymentMethod};
use domain::billing::plan::{self as plan, Plan, PlanTerms, PlanTier};
use domain::billing::subscription::{SubscribedPlan, Subscription, SubscriptionCommand};
use domain::identity::account_users::{AccountUsers, AccountUsersCommand, UserRole};
use domain::identity::group::{Group, GroupCommand, GroupError};
use domain::identity::operator::{Operator, OperatorCommand, OperatorError};
use domain::identity::user_email_claim::{user_id_for, UserEmailClaim, UserEmailClaimCommand};
use domain::kit::error::Coded;
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::{
    AccountName, DisplayName, Email, GroupName, ModelName, OperationType, PaymentReference, Reason,
    Slug,
};
use domain::tenancy::account::{Account, AccountCommand};
use domain::{Actor, ActorKind, ErrorCode};
use futures::stream::{self, StreamExt};
use projections::billing::scheduler::Scheduler;
use projections::billing::{
    deadlines, dunning, invoice_issuing, invoices, payment_approval, subscription_billing,
    subscriptions,
};
use projections::tenancy::accounts;
use projections::{CommandBus, CommandContext, CommandError, Engine};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strum::IntoEnumIterator;
use uuid::Uuid;

const DAYS: i64 = 365;
/// The system component the seeder acts as.
const SEEDER: &str = "seed-demo";
/// The service principal that reports the demo's usage: a registered operator, so an auditor
/// finds who it is like any other actor in the log.
const DEMO_PLATFORM_EMAIL: &str = "platform-demo@igny8.local";

/// Registers the demo's service principal (once) and returns it as an actor.
async fn register_platform(bus: &CommandBus) -> Result<Actor, ApiError> {
    let email = Email::parse(DEMO_PLATFORM_EMAIL)?;
    let id = Operator::id_for(&email);
    let command = OperatorCommand::Register {
        email,
        display_name: DisplayName::parse("Demo platform")?,
        superuser: false,
        service: true,
    };
    let context =
        CommandContext::new(Actor::system(SEEDER)).with_idempotency_key("seed-demo:platform");
    match bus
        .execute::<Operator>(&id.to_string(), command, &context)
        .await
    {
        Ok(_) | Err(CommandError::Rejected(OperatorError::AlreadyRegistered)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Actor::new(ActorKind::Service, id.to_string()))
}
/// One operator per built-in staff role, in it: who a demo's support agent or billing
/// administrator would be.
const DEMO_STAFF: &[(&str, &str, &str)] = &[
    (
        "billing@igny8.local",
        "Bea Billing",
        "Billing Administrator",
    ),
    ("content@igny8.local", "Carl Content", "Content Manager"),
    ("support@igny8.local", "Sam Support", "Support Agent"),
    ("analyst@igny8.local", "Ana Analyst", "Analyst"),
];

/// Registers the demo's staff (once) and puts each in their group.
async fn register_staff(bus: &CommandBus) -> Result<(), ApiError> {
    for (email, name, group) in DEMO_STAFF {
        let email = Email::parse(email)?;
        let operator_id = Operator::id_for(&email);
        let context = CommandContext::new(Actor::system(SEEDER))
            .with_idempotency_key(format!("seed-demo:staff:{email}"));
        let register = OperatorCommand::Register {
            email,
            display_name: DisplayName::parse(name)?,
            superuser: false,
            service: false,
        };
        match bus
            .execute::<Operator>(&operator_id.to_string(), register, &context)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(OperatorError::AlreadyRegistered)) => {}
            Err(e) => return Err(e.into()),
        }
        let group_id = Group::id_for(&GroupName::parse(group)?);
        let context = CommandContext::new(Actor::system(SEEDER))
            .with_idempotency_key(format!("seed-demo:staff-group:{operator_id}"))
            .with_reason("demo staff");
        match bus
            .execute::<Group>(
                &group_id.to_string(),
                GroupCommand::AddMember { operator_id },
                &context,
            )
            .await
        {
            Ok(_) | Err(CommandError::Rejected(GroupError::AlreadyMember)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

const CONCURRENCY: usize = 8;

const ADJECTIVES: &[&str] = &[
    "Blue", "Bright", "Clever", "Golden", "Green", "Happy", "Iron", "Lucky", "Modern", "Noble",
    "Quiet", "Rapid", "Silver", "Smart", "Solid", "Sunny", "Swift", "True", "Urban", "Wild",
];
const NOUNS: &[&str] = &[
    "Anchor", "Beacon", "Canvas", "Compass", "Falcon", "Forge", "Harbor", "Horizon", "Lantern",
    "Maple", "Meadow", "Orbit", "Pixel", "Quill", "River", "Summit", "Thread", "Tide", "Willow",
];
const SUFFIXES: &[&str] = &[
    "Media", "Labs", "Studio", "Agency", "Digital", "Press", "Co",
];
const OPERATIONS: &[(&str, &str, i64)] = &[
    ("content_generation", "gpt-4o", 12),
    ("image_generation", "dall-e-3", 20),
    ("keyword_clustering", "gpt-4o-mini", 3),
    ("idea_generation", "claude-3-5-sonnet", 6),
    ("image_generation", "runware-flux", 8),
];

/// What the seeder did.
#[derive(Debug, Default)]
pub struct Seeded {
    pub accounts: usize,
    pub payments: usize,
    pub commands: usize,
    pub refused: usize,
    /// Activity records the platform reported.
    pub activity: usize,
}

/// One account's plan for the ninety days, decided up front from a seeded generator so the
/// data set is the same on every machine.
struct Script {
    index: usize,
    id: Uuid,
    name: String,
    slug: String,
    owner: String,
    plan: PlanTier,
    opened_day: i64,
    /// Consumption probability per day.
    activity: f64,
    /// (day, credits, price in cents, method, outcome)
    payments: Vec<(i64, i64, i64, PaymentMethod, Outcome)>,
    suspended: Option<(i64, Option<i64>)>,
    deleted_day: Option<i64>,
    /// How many days after an invoice is issued the account pays it; `None`: never.
    pays_after: Option<i64>,
}

#[derive(Clone, Copy)]
enum Outcome {
    Approved,
    Rejected,
    Pending,
    Refunded,
}

fn scripts(count: usize) -> Vec<Script> {
    let mut rng = StdRng::seed_from_u64(8_2026);
    (0..count)
        .map(|index| {
            let name = format!(
                "{} {} {}",
                ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
                NOUNS[rng.gen_range(0..NOUNS.len())],
                SUFFIXES[rng.gen_range(0..SUFFIXES.len())]
            );
            let slug = format!("{}-{index}", name.to_lowercase().replace(' ', "-"));
            let plan = match rng.gen_range(0..10) {
                0..=3 => PlanTier::Free,
                4..=6 => PlanTier::Starter,
                7..=8 => PlanTier::Growth,
                _ => PlanTier::Scale,
            };
            let opened_day = rng.gen_range(0..DAYS - 5);
            let mut payments = Vec::new();
            if plan != PlanTier::Free {
                let mut day = opened_day + rng.gen_range(0..3);
                while day < DAYS {
                    let credits = [1_000, 2_500, 5_000, 10_000][rng.gen_range(0..4)];
                    let price = credits * 4;
                    let methods: Vec<PaymentMethod> = PaymentMethod::iter().collect();
                    let method = methods[rng.gen_range(0..methods.len())];
                    let outcome = match (DAYS - day, rng.gen_range(0..10)) {
                        (0..=3, _) => Outcome::Pending,
                        (_, 0) => Outcome::Rejected,
                        (_, 1) => Outcome::Refunded,
                        (_, 2) => Outcome::Pending,
                        _ => Outcome::Approved,
                    };
                    payments.push((day, credits, price, method, outcome));
                    day += rng.gen_range(20..45);
                }
            }
            let suspended = (rng.gen_range(0..20) == 0).then(|| {
                let from = rng.gen_range(opened_day + 1..DAYS);
                (
                    from,
                    (rng.gen_bool(0.5) && from + 3 < DAYS).then(|| from + 3),
                )
            });
            let deleted_day = (suspended.is_none() && rng.gen_range(0..50) == 0)
                .then(|| DAYS - rng.gen_range(1..10))
                .filter(|day| *day > opened_day + 1);
            // Most pay within the week the invoice gives them, some after its late fee, a few
            // never.
            let pays_after = match rng.gen_range(0..20) {
                0 => None,
                1..=2 => Some(rng.gen_range(8..13)),
                _ => Some(rng.gen_range(0..6)),
            };
            Script {
                index,
                id: Uuid::new_v5(
                    &Uuid::NAMESPACE_OID,
                    format!("seed-demo:account:{index}").as_bytes(),
                ),
                owner: format!("owner{index}@{}.example", slug),
                name,
                slug,
                plan,
                opened_day,
                activity: rng.gen_range(0.05..0.35),
                payments,
                suspended,
                deleted_day,
                pays_after,
            }
        })
        .collect()
}

/// The people of a demo account: its owner (the address it was opened with), and for most
/// accounts a few more, in every role; some still invited.
fn people(script: &Script) -> Vec<(Email, String, UserRole, bool)> {
    let mut people = vec![(UserRole::Owner, "owner", false)];
    match script.index % 4 {
        0 => people.extend([
            (UserRole::Admin, "admin", false),
            (UserRole::Editor, "editor", false),
            (UserRole::Viewer, "viewer", true),
        ]),
        1 => people.push((UserRole::Editor, "writer", false)),
        2 => people.push((UserRole::Viewer, "reader", true)),
        _ => {}
    }
    people
        .into_iter()
        .filter_map(|(role, who, invite)| {
            let email = if role == UserRole::Owner {
                script.owner.clone()
            } else {
                format!("{who}{}@{}.example", script.index, script.slug)
            };
            let name = format!("{} {} of {}", capitalised(who), script.index, script.name);
            Some((Email::parse(&email).ok()?, name, role, invite))
        })
        .collect()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A command context at business time `day` (plus an hour offset), keyed for idempotency.
fn at(actor: &Actor, start: DateTime<Utc>, day: i64, hour: i64, key: String) -> CommandContext {
    CommandContext::new(actor.clone())
        .occurred_at(start + Duration::days(day) + Duration::hours(hour))
        .with_idempotency_key(key)
}

/// Counts a command's outcome; business refusals (e.g. a debit the balance cannot cover) are
/// part of a living system and only counted.
fn tally<E: Coded + std::error::Error + 'static>(
    seeded: &mut Seeded,
    result: Result<projections::Appended, CommandError<E>>,
) -> Result<(), ApiError> {
    match result {
        Ok(_) => seeded.commands += 1,
        Err(CommandError::Rejected(_)) => seeded.refused += 1,
        Err(e) if e.code() == ErrorCode::Internal => return Err(e.into()),
        Err(_) => seeded.refused += 1,
    }
    Ok(())
}

/// Everything one account does on one day.
async fn play_day(
    bus: &CommandBus,
    platform: &Actor,
    script: &Script,
    day: i64,
    start: DateTime<Utc>,
) -> Result<Seeded, ApiError> {
    let mut seeded = Seeded::default();
    let seeder = Actor::system(SEEDER);
    let id = script.id.to_string();
    let subscription = Subscription::id_for(script.id).to_string();
    let key = |what: &str| format!("seed-demo:{}:{day}:{what}", script.index);
    if day < script.opened_day || script.deleted_day.is_some_and(|d| day > d) {
        return Ok(seeded);
    }
    if day == script.opened_day {
        let context = at(
            &seeder,
            start,
            day,
            9,
            format!("seed-demo:account:{}", script.index),
        );
        tenancy::open(
            bus,
            &context,
            script.id,
            AccountName::parse(&script.name)?,
            Slug::parse(&script.slug)?,
            Email::parse(&script.owner)?,
            script.plan,
        )
        .await?;
        seeded.accounts += 1;
        let subscribe = SubscriptionCommand::Start {
            account_id: script.id,
            plan: subscribed(script.plan)?,
            at: start + Duration::days(day) + Duration::hours(9),
            trial_days: None,
        };
        let context = at(&seeder, start, day, 9, key("subscribe")).with_reason("signed up");
        tally(
            &mut seeded,
            bus.execute::<Subscription>(&subscription, subscribe, &context)
                .await,
        )?;
        let welcome = AccountCommand::AdjustCredits {
            amount: Credits::signed(100)?,
            reason: Reason::parse("welcome credits")?,
        };
        let context = at(&seeder, start, day, 9, key("welcome")).with_reason("welcome credits");
        tally(
            &mut seeded,
            bus.execute::<Account>(&id, welcome, &context).await,
        )?;
        // A third of the paying accounts choose their own text model.
        if script.index.is_multiple_of(3) {
            let overrides = own_text_model(script.plan)?;
            let context =
                at(&seeder, start, day, 9, key("ai-override")).with_reason("our own model");
            tally(
                &mut seeded,
                bus.execute::<AccountAiSettings>(&id, overrides, &context)
                    .await,
            )?;
        }
        for (n, (email, name, role, invite)) in people(script).into_iter().enumerate() {
            let context = |what: &str| at(&seeder, start, day, 10, key(&format!("{what}:{n}")));
            let user_id = user_id_for(&email);
            let claim = UserEmailClaimCommand::Claim {
                account_id: script.id,
            };
            tally(
                &mut seeded,
                bus.execute::<UserEmailClaim>(&user_id.to_string(), claim, &context("claim"))
                    .await,
            )?;
            let add = AccountUsersCommand::Add {
                user_id,
                email,
                name: DisplayName::parse(&name)?,
                role,
                invite,
            };
            tally(
                &mut seeded,
                bus.execute::<AccountUsers>(&id, add, &context("user"))
                    .await,
            )?;
        }
    }
    for (n, (pay_day, credits, price, method, outcome)) in script.payments.iter().enumerate() {
        let payment_id = Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("seed-demo:payment:{}:{n}", script.index).as_bytes(),
        );
        let payment = payment_id.to_string();
        if *pay_day == day {
            let record = PaymentCommand::Record {
                account_id: script.id,
                amount: Money::new(*price, Currency::parse("USD")?),
                credits: Credits::positive(*credits)?,
                method: *method,
                reference: Some(PaymentReference::parse(&format!(
                    "DEMO-{}-{n}",
                    script.index
                ))?),
                note: None,
                invoice_id: None,
                package: None,
            };
            tally(
                &mut seeded,
                bus.execute::<Payment>(
                    &payment,
                    record,
                    &at(&seeder, start, day, 10, key(&format!("record-{n}"))),
                )
                .await,
            )?;
            seeded.payments += 1;
        }
        // Decided the next day, unless the account closes that day (the approval's credits
        // would land after it closed).
        if *pay_day + 1 == day && script.deleted_day != Some(day) {
            let (command, reason) = match outcome {
                Outcome::Pending => continue,
                Outcome::Rejected => (
                    PaymentCommand::Reject {
                        reason: Reason::parse("transfer not received")?,
                    },
                    Some("transfer not received"),
                ),
                Outcome::Approved | Outcome::Refunded => (
                    PaymentCommand::Approve {
                        approver: "seed-demo".into(),
                    },
                    None,
                ),
            };
            let mut context = at(&seeder, start, day, 11, key(&format!("decide-{n}")));
            context.reason = reason.map(str::to_string);
            tally(
                &mut seeded,
                bus.execute::<Payment>(&payment, command, &context).await,
            )?;
        }
        if matches!(outcome, Outcome::Refunded) && *pay_day + 10 == day {
            let refund = PaymentCommand::Refund {
                reason: Reason::parse("customer cancelled within the refund window")?,
            };
            let context = at(&seeder, start, day, 12, key(&format!("refund-{n}")))
                .with_reason("customer cancelled within the refund window");
            tally(
                &mut seeded,
                bus.execute::<Payment>(&payment, refund, &context).await,
            )?;
        }
    }
    // A quarter of the accounts write their own article prompt on their second day; half of
    // those go back to the default ten days later.
    if script.index % 4 == 1 {
        let prompt = if day == script.opened_day + 1 {
            Some(("customize", customized_article_prompt(bus, script).await?))
        } else if day == script.opened_day + 11 && script.index % 8 == 1 {
            let reset = AccountPromptsCommand::ResetToDefault {
                prompt_type: PromptType::parse(ARTICLE_PROMPT)?,
            };
            Some(("reset-prompt", reset))
        } else {
            None
        };
        if let Some((what, command)) = prompt {
            let context = at(&seeder, start, day, 11, key(what)).with_reason("the team's voice");
            tally(
                &mut seeded,
                bus.execute::<AccountPrompts>(&id, command, &context).await,
            )?;
        }
    }
    // A fifth of the accounts start from the library's SaaS persona on their third day.
    if script.index % 5 == 2 && day == script.opened_day + 2 {
        let context = at(&seeder, start, day, 11, key("clone-profile")).with_reason("a start");
        let clone = cloned_persona(bus, script.id).await?;
        let id = Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("seed-demo:profile:{}", script.index).as_bytes(),
        );
        tally(
            &mut seeded,
            bus.execute::<Template>(&id.to_string(), clone, &context)
                .await,
        )?;
    }
    if let Some((from, until)) = script.suspended {
        if day == from {
            let command = AccountCommand::Suspend {
                reason: Reason::parse("payment overdue")?,
            };
            let context = at(&seeder, start, day, 8, key("suspend")).with_reason("payment overdue");
            tally(
                &mut seeded,
                bus.execute::<Account>(&id, command, &context).await,
            )?;
        }
        if until == Some(day) {
            tally(
                &mut seeded,
                bus.execute::<Account>(
                    &id,
                    AccountCommand::Activate,
                    &at(&seeder, start, day, 8, key("activate")),
                )
                .await,
            )?;
        }
    }
    let mut rng = StdRng::seed_from_u64((script.index as u64) << 16 | day as u64);
    if day > script.opened_day && rng.gen_bool(script.activity) {
        let calls: Vec<usize> = (0..rng.gen_range(1..4))
            .map(|_| rng.gen_range(0..OPERATIONS.len()))
            .collect();
        for (call, &operation) in calls.iter().enumerate() {
            let call = call as i64;
            let (operation, model, per_unit) = OPERATIONS[operation];
            let units = rng.gen_range(1..5);
            let command = AccountCommand::ConsumeCredits {
                operation: OperationType::parse(operation)?,
                units,
                model: Some(ModelName::parse(model)?),
                credits: Credits::positive(per_unit * units)?,
                cost_version: None,
            };
            let context = at(platform, start, day, 13 + call, key(&format!("use-{call}")));
            tally(
                &mut seeded,
                bus.execute::<Account>(&id, command, &context).await,
            )?;
        }
        seeded.activity += activity::report_day(bus, platform, script, day, start, &calls).await?;
    }
    // The subscription ends the day before the account closes, so what it leaves (the
    // expiry of its included credits) lands on an open account.
    if script.deleted_day == Some(day + 1) {
        let cancel = SubscriptionCommand::Cancel {
            reason: Reason::parse("the account is closing")?,
            at_period_end: false,
            at: start + Duration::days(day) + Duration::hours(18),
        };
        let context =
            at(&seeder, start, day, 18, key("cancel")).with_reason("the account is closing");
        tally(
            &mut seeded,
            bus.execute::<Subscription>(&subscription, cancel, &context)
                .await,
        )?;
    }
    if script.deleted_day == Some(day) {
        let command = AccountCommand::Delete {
            reason: Reason::parse("customer asked to close the account")?,
        };
        let context = at(&seeder, start, day, 18, key("delete"))
            .with_reason("customer asked to close the account");
        tally(
            &mut seeded,
            bus.execute::<Account>(&id, command, &context).await,
        )?;
    }
    Ok(seeded)
}

/// The built-in plan of `tier`, version 1, as a subscription takes it on.
/// The built-in plan of a tier: its code and first terms.
fn builtin_plan(tier: PlanTier) -> Result<(Slug, PlanTerms), ApiError> {
    plan::builtin()
        .into_iter()
        .find(|(code, _)| code.as_str() == tier.as_str())
        .ok_or_else(|| ApiError::not_found(format!("no built-in plan `{tier}`")))
}

fn subscribed(tier: PlanTier) -> Result<SubscribedPlan, ApiError> {
    let (code, terms) = builtin_plan(tier)?;
    Ok(SubscribedPlan {
        plan_id: Plan::id_for(&code),
        code,
        version: 1,
        tier,
        name: terms.name,
        monthly_price: terms.monthly_price,
        included_credits: terms.included_credits,
    })
}

/// An account's own OpenAI model and temperature, on its plan as built in (refused on Free,
/// and counted as such).
fn own_text_model(tier: PlanTier) -> Result<AccountAiSettingsCommand, ApiError> {
    let allowed = builtin_plan(tier)?.1.overrides_allowed;
    Ok(AccountAiSettingsCommand::Override {
        provider: Provider::Openai,
        set: [
            (Setting::Model, serde_json::json!("gpt-4o")),
            (Setting::Temperature, serde_json::json!(0.4)),
        ]
        .into(),
        clear: Vec::new(),
        plan: PlanGate {
            plan: tier.as_str().to_string(),
            overrides_allowed: allowed,
        },
    })
}

/// The prompt type demo accounts customize.
const ARTICLE_PROMPT: &str = "content_generation";

/// An account's own article prompt, based on the version published now.
async fn customized_article_prompt(
    bus: &CommandBus,
    script: &Script,
) -> Result<AccountPromptsCommand, ApiError> {
    let prompt_type = PromptType::parse(ARTICLE_PROMPT)?;
    let global = bus
        .read::<GlobalPrompt>(&GlobalPrompt::id_for(&prompt_type).to_string())
        .await?;
    let (Some((version, _)), Some(variables)) = (global.published(), global.variables()) else {
        return Err(ApiError::not_found("no built-in article prompt"));
    };
    Ok(AccountPromptsCommand::Customize {
        prompt_type,
        text: format!(
            "You write for {}. Title: \"{{title}}\". Tone: {{tone}}. Follow this outline:\n\
             {{outline}}\nWork in these keywords: {{keywords}}. Short paragraphs; no fluff.",
            script.name
        ),
        based_on_version: version,
        variables: variables.clone(),
    })
}

/// A copy of the library's first author profile for `account`, remembering its version.
async fn cloned_persona(bus: &CommandBus, account: Uuid) -> Result<TemplateCommand, ApiError> {
    let persona = template::builtin()
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("no built-in author profile"))?;
    let source = template::library_id(&persona);
    let library = bus.read::<Template>(&source.to_string()).await?;
    let Some((terms, version, None)) = library.terms() else {
        return Err(ApiError::not_found("the library's persona is missing"));
    };
    Ok(TemplateCommand::Create {
        account_id: Some(account),
        terms: terms.clone(),
        cloned_from: Some(TemplateRef {
            template_id: source,
            version,
        }),
    })
}

/// Catches up what billing reads and writes, until nothing more follows.
async fn settle_billing(engine: &Engine) -> Result<(), ApiError> {
    const BILLING: [&str; 8] = [
        subscriptions::NAME,
        subscription_billing::NAME,
        invoice_issuing::NAME,
        invoices::NAME,
        deadlines::NAME,
        dunning::NAME,
        payment_approval::NAME,
        accounts::NAME,
    ];
    loop {
        let mut applied = 0;
        for name in BILLING {
            applied += engine.catch_up(name).await?;
        }
        if applied == 0 {
            return Ok(());
        }
    }
}

/// The scheduler's work up to `now`, then every invoice an account pays today: those issued
/// `pays_after` days ago or earlier, each with a wire recorded and approved today.
async fn bill_day(
    bus: &CommandBus,
    engine: &Engine,
    scheduler: &Scheduler,
    scripts: &[Script],
    day: i64,
    start: DateTime<Utc>,
) -> Result<Seeded, ApiError> {
    let mut seeded = Seeded::default();
    let now = start + Duration::days(day);
    loop {
        settle_billing(engine).await?;
        let report = scheduler
            .run_due(now)
            .await
            .map_err(|e| ApiError::internal(&*e))?;
        seeded.commands += report.carried_out;
        seeded.refused += report.refused;
        if report.carried_out + report.refused == 0 {
            break;
        }
    }
    let due: Vec<(Uuid, Uuid, i64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, account_id, total_minor, currency, issued_at FROM read.invoices \
         WHERE status = 'pending' AND subject_kind IN ('subscription', 'late_fee') \
           AND issued_at < $1 ORDER BY issued_at, id",
    )
    .bind(now + Duration::days(1))
    .fetch_all(bus.pool())
    .await?;
    let seeder = Actor::system(SEEDER);
    for (invoice, account, total, currency, issued_at) in due {
        let Some(script) = scripts.iter().find(|s| s.id == account) else {
            continue;
        };
        let Some(after) = script.pays_after else {
            continue;
        };
        if (now - issued_at).num_days() < after || script.deleted_day.is_some_and(|d| day > d) {
            continue;
        }
        let payment = Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("seed-demo:invoice-payment:{invoice}").as_bytes(),
        )
        .to_string();
        let key = |what: &str| format!("seed-demo:invoice-payment:{invoice}:{what}");
        let record = PaymentCommand::Record {
            account_id: account,
            amount: Money::new(total, Currency::parse(&currency)?),
            credits: Credits::ZERO,
            method: PaymentMethod::Wire,
            reference: Some(PaymentReference::parse(&format!(
                "INV-PAY-{}",
                script.index
            ))?),
            note: None,
            invoice_id: Some(invoice),
            package: None,
        };
        let context = at(&seeder, start, day, 15, key("record"));
        tally(
            &mut seeded,
            bus.execute::<Payment>(&payment, record, &context).await,
        )?;
        let approve = PaymentCommand::Approve {
            approver: SEEDER.into(),
        };
        let context = at(&seeder, start, day, 16, key("approve"));
        tally(
            &mut seeded,
            bus.execute::<Payment>(&payment, approve, &context).await,
        )?;
        seeded.payments += 1;
    }
    Ok(seeded)
}

/// Seeds `count` accounts and their year. Each day, billing catches up first (renewals,
/// dunning, invoices paid), then the accounts play the day; payments approved on a day are
/// credited before the next day is played, so usage meets the balance it would have met.
pub async fn seed(bus: &CommandBus, engine: &Engine, count: usize) -> Result<Seeded, ApiError> {
    let platform = register_platform(bus).await?;
    register_staff(bus).await?;
    let scripts = scripts(count);
    let start = (Utc::now() - Duration::days(DAYS))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let mut total = Seeded::default();
    let scheduler = Scheduler::new(bus.clone(), LateFeePolicy::Percent { basis_points: 500 });
    let mut add = |seeded: Seeded| {
        total.accounts += seeded.accounts;
        total.payments += seeded.payments;
        total.commands += seeded.commands;
        total.refused += seeded.refused;
        total.activity += seeded.activity;
    };
    for day in 0..DAYS {
        add(bill_day(bus, engine, &scheduler, &scripts, day, start).await?);
        let results: Vec<_> = stream::iter(&scripts)
            .map(|script| play_day(bus, &platform, script, day, start))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for result in results {
            add(result?);
        }
        engine.catch_up(payment_approval::NAME).await?;
    }
    settle_billing(engine).await?;
    Ok(total)
}
