//! Subscriptions through GraphQL: started, upgraded with a prorated charge, downgraded at the
//! period's end, cancelled and activated again, with the included credits they grant and
//! expire, the invoices they issue, the account's plan following them, the list's filters,
//! bulk actions and bad input.

use crate::accounts::{event_count, open_account};
use crate::helpers::{error_code, TestApp};
use domain::billing::plan::{Plan, PlanTier};
use serde_json::{json, Value};

const SUBSCRIPTION: &str = "subscription { id accountId planCode planVersion status \
    priceMinor includedCredits periodStart periodEnd cancelsAtPeriodEnd cancelReason \
    downgradePlanCode endedAt } position caughtUp";

fn plan_id(tier: PlanTier) -> String {
    Plan::id_for(&tier.code()).to_string()
}

async fn call(app: &TestApp, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "startSubscription" => "StartSubscriptionInput",
        "cancelSubscription" => "CancelSubscriptionInput",
        "upgradeSubscription" | "downgradeSubscription" => "ChangeSubscriptionPlanInput",
        _ => "SubscriptionInput",
    };
    app.graphql(
        &format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {SUBSCRIPTION} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}

async fn must(app: &TestApp, mutation: &str, input: Value) -> Value {
    let body = call(app, mutation, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation]["subscription"].clone()
}

async fn refused(app: &TestApp, mutation: &str, input: Value, code: &str) -> Value {
    let before = event_count(app).await;
    let body = call(app, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
    body
}

async fn start(app: &TestApp, account: &str, tier: PlanTier) -> Value {
    must(
        app,
        "startSubscription",
        json!({ "accountId": account, "planId": plan_id(tier), "reason": "signed up" }),
    )
    .await
}

async fn query(app: &TestApp, query: &str) -> Value {
    let body = app.graphql(query, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// The account's plan, balance, ledger (kind, amount, balance after) and invoices (kind of
/// their line, total, status), oldest first.
async fn books(
    app: &TestApp,
    account: &str,
) -> (Value, Vec<(String, i64, i64)>, Vec<(String, i64, String)>) {
    let data = query(
        app,
        &format!(
            "{{ account(id: \"{account}\") {{ plan balance }} \
             creditLedger(first: 100, filter: {{ accountId: \"{account}\" }}) {{ nodes {{ kind amount balanceAfter position }} }} \
             invoices(first: 100, filter: {{ accountId: \"{account}\" }}, sort: {{ field: CREATED_AT, direction: ASC }}) \
             {{ nodes {{ status totalMinor lines {{ kind }} }} }} }}"
        ),
    )
    .await;
    let mut ledger: Vec<(i64, String, i64, i64)> = data["creditLedger"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["position"].as_i64().unwrap(),
                n["kind"].as_str().unwrap().to_string(),
                n["amount"].as_i64().unwrap(),
                n["balanceAfter"].as_i64().unwrap(),
            )
        })
        .collect();
    ledger.sort();
    let invoices = data["invoices"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["lines"][0]["kind"].as_str().unwrap().to_string(),
                n["totalMinor"].as_i64().unwrap(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (
        data["account"].clone(),
        ledger.into_iter().map(|(_, k, a, b)| (k, a, b)).collect(),
        invoices,
    )
}

fn line(kind: &str, amount: i64, balance_after: i64) -> (String, i64, i64) {
    (kind.to_string(), amount, balance_after)
}

fn invoice(kind: &str, total: i64, status: &str) -> (String, i64, String) {
    (kind.to_string(), total, status.to_string())
}

#[tokio::test]
async fn a_subscription_grants_invoices_upgrades_downgrades_cancels_and_starts_again() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "subscriber").await;

    let started = start(&app, &account, PlanTier::Starter).await;
    let id = started["id"].as_str().unwrap().to_string();
    let on_account = query(
        &app,
        &format!("{{ account(id: \"{account}\") {{ subscription {{ id status planCode }} }} }}"),
    )
    .await;
    assert_eq!(
        on_account["account"]["subscription"],
        json!({ "id": id, "status": "ACTIVE", "planCode": "starter" })
    );
    assert_eq!(started["status"], "ACTIVE");
    assert_eq!(started["planCode"], "starter");
    assert_eq!(started["includedCredits"], 1_000);
    let (owner, ledger, invoices) = books(&app, &account).await;
    assert_eq!(owner, json!({ "plan": "STARTER", "balance": 1_000 }));
    assert_eq!(ledger, vec![line("INCLUDED", 1_000, 1_000)]);
    assert_eq!(
        invoices,
        vec![invoice("SUBSCRIPTION_PERIOD", 2_900, "PENDING")]
    );

    // A second start is a conflict; the upgrade goes through `changeAccountPlan` too.
    refused(
        &app,
        "startSubscription",
        json!({ "accountId": account, "planId": plan_id(PlanTier::Growth), "reason": "again" }),
        "CONFLICT",
    )
    .await;
    let body = app
        .graphql(
            "mutation($input: ChangeAccountPlanInput!) { changeAccountPlan(input: $input) { \
             account { plan } caughtUp } }",
            json!({ "input": { "accountId": account, "plan": "GROWTH", "reason": "more sites" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["changeAccountPlan"]["account"]["plan"],
        "GROWTH"
    );
    // Upgraded seconds into a month: the whole difference, rounded half-even, is charged
    // (7,900 - 2,900) and granted (5,000 - 1,000).
    let (_, ledger, invoices) = books(&app, &account).await;
    assert_eq!(
        ledger,
        vec![
            line("INCLUDED", 1_000, 1_000),
            line("INCLUDED", 4_000, 5_000)
        ]
    );
    assert_eq!(
        invoices,
        vec![
            invoice("SUBSCRIPTION_PERIOD", 2_900, "PENDING"),
            invoice("PRORATION", 5_000, "PENDING"),
        ]
    );
    // Upgrading to a cheaper plan is refused; downgrading is scheduled for the period's end.
    let cheaper =
        json!({ "subscriptionId": id, "planId": plan_id(PlanTier::Starter), "reason": "cheaper" });
    let body = refused(&app, "upgradeSubscription", cheaper.clone(), "VALIDATION").await;
    assert!(body.to_string().contains("downgrade"), "{body}");
    let downgraded = must(&app, "downgradeSubscription", cheaper).await;
    assert_eq!(downgraded["planCode"], "growth");
    assert_eq!(downgraded["downgradePlanCode"], "starter");

    // Cancelled at the period's end: still live; then now: the included credits expire.
    let scheduled = must(
        &app,
        "cancelSubscription",
        json!({ "subscriptionId": id, "reason": "budget cut", "atPeriodEnd": true }),
    )
    .await;
    assert_eq!(scheduled["status"], "ACTIVE");
    assert_eq!(scheduled["cancelsAtPeriodEnd"], true);
    assert_eq!(scheduled["cancelReason"], "budget cut");
    let cancelled = must(
        &app,
        "cancelSubscription",
        json!({ "subscriptionId": id, "reason": "closing now" }),
    )
    .await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(cancelled["endedAt"].is_string());
    let (owner, ledger, _) = books(&app, &account).await;
    assert_eq!(owner["balance"], 0);
    assert_eq!(ledger.last(), Some(&line("EXPIRY", -5_000, 0)));
    let body = refused(
        &app,
        "cancelSubscription",
        json!({ "subscriptionId": id, "reason": "again" }),
        "CONFLICT",
    )
    .await;
    assert!(body.to_string().contains("cancelled"), "{body}");

    // Activated again: a new period on the plan it was on, granted and invoiced.
    let activated = must(
        &app,
        "activateSubscription",
        json!({ "subscriptionId": id, "reason": "came back" }),
    )
    .await;
    assert_eq!(activated["status"], "ACTIVE");
    assert_eq!(activated["planCode"], "growth");
    assert_eq!(activated["endedAt"], Value::Null);
    let (owner, ledger, invoices) = books(&app, &account).await;
    assert_eq!(owner, json!({ "plan": "GROWTH", "balance": 5_000 }));
    assert_eq!(ledger.last(), Some(&line("INCLUDED", 5_000, 5_000)));
    assert_eq!(invoices.len(), 3);
    assert_eq!(
        invoices[2],
        invoice("SUBSCRIPTION_PERIOD", 7_900, "PENDING")
    );
    // Activating an active subscription records nothing.
    let before = event_count(&app).await;
    must(
        &app,
        "activateSubscription",
        json!({ "subscriptionId": id, "reason": "again" }),
    )
    .await;
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn purchased_credits_never_expire_and_consumption_draws_on_included_ones_first() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "spender").await;
    let body = app
        .graphql(
            "mutation($input: AdjustCreditsInput!) { adjustCredits(input: $input) { caughtUp } }",
            json!({ "input": { "accountId": account, "amount": 300, "reason": "goodwill" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let id = start(&app, &account, PlanTier::Starter).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = app
        .graphql(
            "mutation($input: AdjustCreditsInput!) { adjustCredits(input: $input) { caughtUp } }",
            json!({ "input": { "accountId": account, "amount": -400, "reason": "correction" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    must(
        &app,
        "cancelSubscription",
        json!({ "subscriptionId": id, "reason": "done" }),
    )
    .await;
    let (owner, ledger, _) = books(&app, &account).await;
    assert_eq!(
        ledger,
        vec![
            line("ADJUSTMENT", 300, 300),
            line("INCLUDED", 1_000, 1_300),
            line("ADJUSTMENT", -400, 900),
            line("EXPIRY", -600, 300),
        ]
    );
    assert_eq!(owner["balance"], 300, "the 300 given by hand stay");
}

#[tokio::test]
async fn the_list_filters_by_status_plan_and_renewal_and_bulk_actions_answer_per_item() {
    let app = TestApp::spawn().await;
    let mut ids = vec![];
    for (slug, tier) in [
        ("one", PlanTier::Starter),
        ("two", PlanTier::Growth),
        ("three", PlanTier::Growth),
    ] {
        let account = open_account(&app, slug).await;
        ids.push(
            start(&app, &account, tier).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let count = |filter: &str| {
        let app = &app;
        let filter = filter.to_string();
        async move {
            query(
                app,
                &format!("{{ subscriptions(filter: {filter}) {{ totalCount }} }}"),
            )
            .await["subscriptions"]["totalCount"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(count(r#"{ plan: ["growth"] }"#).await, 2);
    assert_eq!(count("{ status: [ACTIVE] }").await, 3);
    assert_eq!(count("{ status: [CANCELLED] }").await, 0);
    let in_a_month = (chrono::Utc::now() + chrono::Duration::days(40)).to_rfc3339();
    assert_eq!(
        count(&format!(r#"{{ renewing: {{ to: "{in_a_month}" }} }}"#)).await,
        3
    );
    assert_eq!(
        count(r#"{ renewing: { to: "2026-01-01T00:00:00Z" } }"#).await,
        0
    );
    let body = app
        .graphql(
            r#"{ subscriptions(filter: { plan: ["Not A Code!"] }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");

    let bulk = |action: &str, ids: Vec<String>, key: &str| {
        let app = &app;
        let input =
            json!({ "action": action, "ids": ids, "reason": "end of the pilot", "bulkKey": key });
        async move {
            let body = app
                .graphql(
                    "mutation($input: BulkSubscriptionInput!) { bulkSubscriptionAction(input: $input) \
                     { done noOp refused items { id outcome code } } }",
                    json!({ "input": input }),
                )
                .await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["bulkSubscriptionAction"].clone()
        }
    };
    let mut targets = ids[..2].to_vec();
    targets.push("00000000-0000-0000-0000-000000000000".into());
    let result = bulk("CANCEL", targets.clone(), "pilot-1").await;
    assert_eq!(
        (&result["done"], &result["noOp"], &result["refused"]),
        (&json!(2), &json!(0), &json!(1)),
        "{result}"
    );
    assert_eq!(result["items"][2]["code"], "NOT_FOUND");
    // The same request again does nothing twice; a new one refuses the cancelled ones.
    let before = event_count(&app).await;
    let again = bulk("CANCEL", targets.clone(), "pilot-1").await;
    assert_eq!(again["done"], 2, "{again}");
    assert_eq!(event_count(&app).await, before);
    let fresh = bulk("CANCEL", targets, "pilot-2").await;
    assert_eq!(fresh["refused"], 3, "{fresh}");
    assert_eq!(fresh["items"][0]["code"], "CONFLICT");
    assert_eq!(count("{ status: [CANCELLED] }").await, 2);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_appends_nothing() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "careful").await;
    let unknown = "00000000-0000-0000-0000-000000000001";
    refused(
        &app,
        "startSubscription",
        json!({ "accountId": account, "planId": unknown, "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
    refused(
        &app,
        "startSubscription",
        json!({ "accountId": unknown, "planId": plan_id(PlanTier::Starter), "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
    for days in [0, 91, -3] {
        refused(
            &app,
            "startSubscription",
            json!({ "accountId": account, "planId": plan_id(PlanTier::Starter), "trialDays": days, "reason": "x" }),
            "VALIDATION",
        )
        .await;
    }
    refused(
        &app,
        "cancelSubscription",
        json!({ "subscriptionId": unknown, "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
    // An inactive plan takes no new subscriptions.
    let body = app
        .graphql(
            "mutation($input: PlanInput!) { deactivatePlan(input: $input) { caughtUp } }",
            json!({ "input": { "planId": plan_id(PlanTier::Scale), "reason": "retired" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    refused(
        &app,
        "startSubscription",
        json!({ "accountId": account, "planId": plan_id(PlanTier::Scale), "reason": "x" }),
        "CONFLICT",
    )
    .await;
    // A trial is granted but not invoiced.
    let trial = must(
        &app,
        "startSubscription",
        json!({ "accountId": account, "planId": plan_id(PlanTier::Growth), "trialDays": 14, "reason": "trial" }),
    )
    .await;
    assert_eq!(trial["status"], "TRIALING");
    let (owner, ledger, invoices) = books(&app, &account).await;
    assert_eq!(owner, json!({ "plan": "GROWTH", "balance": 5_000 }));
    assert_eq!(ledger, vec![line("INCLUDED", 5_000, 5_000)]);
    assert!(invoices.is_empty(), "{invoices:?}");
}

mod simulated_year {
    //! A subscription driven through most of a year of simulated time by the scheduler, with
    //! an explicit clock: renewals, an upgrade, a downgrade at a period's end, a cancellation
    //! at a period's end; the ledger and the invoices written out in full.

    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use domain::billing::plan::builtin;
    use domain::billing::subscription::{SubscribedPlan, Subscription, SubscriptionCommand};
    use domain::kit::money::Credits;
    use domain::kit::values::Reason;
    use domain::tenancy::account::{Account, AccountCommand};
    use domain::Actor;
    use projections::billing::scheduler::Scheduler;
    use projections::{CommandBus, CommandContext};
    use std::time::Duration;
    use uuid::Uuid;

    fn on(year: i32, month: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap()
    }

    fn plan(tier: PlanTier) -> SubscribedPlan {
        let (code, terms) = builtin()
            .into_iter()
            .find(|(code, _)| code.as_str() == tier.as_str())
            .unwrap();
        SubscribedPlan {
            plan_id: Plan::id_for(&code),
            code,
            version: 1,
            tier,
            name: terms.name,
            monthly_price: terms.monthly_price,
            included_credits: terms.included_credits,
        }
    }

    /// A command as billing staff would give it at `at` (business time).
    fn context(at: DateTime<Utc>) -> CommandContext {
        CommandContext::new(Actor::system("billing-desk"))
            .with_reason("as the customer asked")
            .occurred_at(at)
    }

    async fn settled(app: &TestApp) {
        let settled = crate::helpers::eventually(Duration::from_secs(20), || async {
            let body = app.graphql("{ projections { pending } }", json!({})).await;
            body["data"]["projections"]
                .as_array()
                .is_some_and(|all| all.iter().all(|p| p["pending"] == 0))
        })
        .await;
        assert!(settled, "every projection and process manager caught up");
    }

    /// Runs the scheduler as of `now` until nothing is due: each run's renewals make the next
    /// deadlines, which the next run carries out once the projection has them.
    async fn run_until(app: &TestApp, scheduler: &Scheduler, now: DateTime<Utc>) {
        loop {
            settled(app).await;
            let report = scheduler.run_due(now).await.unwrap();
            assert!(report.ran);
            assert_eq!(report.refused, 0);
            if report.carried_out == 0 {
                return;
            }
        }
    }

    /// Like `run_until` from `from`, in steps of five days, paying every pending invoice at
    /// each step: a customer who always pays before the due date (7 days after issue).
    async fn run_paying(
        app: &TestApp,
        scheduler: &Scheduler,
        bus: &CommandBus,
        account: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) {
        let account_id: Uuid = account.parse().unwrap();
        let mut now = from;
        while now < until {
            now = (now + chrono::Duration::days(5)).min(until);
            run_until(app, scheduler, now).await;
            for (invoice, total) in pending_invoices(app, account).await {
                pay(bus, account_id, &invoice, total, now).await;
            }
        }
        settled(app).await;
    }

    #[tokio::test]
    async fn renewals_an_upgrade_a_downgrade_and_a_cancellation_leave_exact_books() {
        let app = TestApp::spawn_with(|s| s.scheduler_every = std::time::Duration::ZERO).await;
        let account = open_account(&app, "a-year").await;
        let account_id: Uuid = account.parse().unwrap();
        let bus = CommandBus::new(app.db.pool.clone());
        let scheduler = Scheduler::new(bus.clone(), app.db.settings().late_fee);
        let subscription = Subscription::id_for(account_id).to_string();
        let subscribe = |command: SubscriptionCommand, at: DateTime<Utc>| {
            let bus = bus.clone();
            let subscription = subscription.clone();
            async move {
                bus.execute::<Subscription>(&subscription, command, &context(at))
                    .await
                    .unwrap();
            }
        };

        let start = on(2025, 1, 31);
        let command = SubscriptionCommand::Start {
            account_id,
            plan: plan(PlanTier::Starter),
            at: start,
            trial_days: None,
        };
        subscribe(command, start).await;
        let paying = |from, until| run_paying(&app, &scheduler, &bus, &account, from, until);
        paying(start, on(2025, 3, 10)).await;
        let goodwill = AccountCommand::AdjustCredits {
            amount: Credits::new(250),
            reason: Reason::parse("goodwill").unwrap(),
        };
        bus.execute::<Account>(&account, goodwill, &context(on(2025, 3, 10)))
            .await
            .unwrap();
        paying(on(2025, 3, 10), on(2025, 5, 5)).await;
        let upgrade = SubscriptionCommand::Upgrade {
            plan: plan(PlanTier::Growth),
            at: on(2025, 5, 5),
        };
        subscribe(upgrade, on(2025, 5, 5)).await;
        paying(on(2025, 5, 5), on(2025, 8, 20)).await;
        let downgrade = SubscriptionCommand::Downgrade {
            plan: plan(PlanTier::Starter),
        };
        subscribe(downgrade, on(2025, 8, 20)).await;
        paying(on(2025, 8, 20), on(2025, 11, 10)).await;
        let cancel = SubscriptionCommand::Cancel {
            reason: Reason::parse("moving to another tool").unwrap(),
            at_period_end: true,
            at: on(2025, 11, 10),
        };
        subscribe(cancel, on(2025, 11, 10)).await;
        // Long after: nothing more than the expiry at the period's end.
        paying(on(2025, 11, 10), on(2026, 2, 15)).await;

        let (owner, ledger, invoices) = books(&app, &account).await;
        assert_eq!(owner, json!({ "plan": "STARTER", "balance": 250 }));
        let renewal = |lost: i64, granted: i64| {
            [
                line("EXPIRY", -lost, 250),
                line("INCLUDED", granted, 250 + granted),
            ]
        };
        let mut expected = vec![
            // 31 January: Starter.
            line("INCLUDED", 1_000, 1_000),
            // 28 February.
            line("EXPIRY", -1_000, 0),
            line("INCLUDED", 1_000, 1_000),
            // 10 March: given by hand, never expires.
            line("ADJUSTMENT", 250, 1_250),
        ];
        // 31 March, 30 April.
        expected.extend(renewal(1_000, 1_000));
        expected.extend(renewal(1_000, 1_000));
        // 5 May: Growth for the 26 of April 30's 31 days left: 4,000 × 26/31 = 3,354.8.
        expected.push(line("INCLUDED", 3_355, 4_605));
        // 31 May, 30 June, 31 July: Growth.
        expected.extend(renewal(4_355, 5_000));
        expected.extend(renewal(5_000, 5_000));
        expected.extend(renewal(5_000, 5_000));
        // 31 August (the downgrade), 30 September, 31 October: Starter.
        expected.extend(renewal(5_000, 1_000));
        expected.extend(renewal(1_000, 1_000));
        expected.extend(renewal(1_000, 1_000));
        // 30 November: expired.
        expected.push(line("EXPIRY", -1_000, 250));
        assert_eq!(ledger, expected);

        // Each paid within five days of its issue, so none was ever dunned.
        let paid = |kind: &str, total: i64| invoice(kind, total, "PAID");
        assert_eq!(
            invoices,
            vec![
                paid("SUBSCRIPTION_PERIOD", 2_900),
                paid("SUBSCRIPTION_PERIOD", 2_900),
                paid("SUBSCRIPTION_PERIOD", 2_900),
                paid("SUBSCRIPTION_PERIOD", 2_900),
                // 5,000 × 26/31 = 4,193.5 → 4,194.
                paid("PRORATION", 4_194),
                paid("SUBSCRIPTION_PERIOD", 7_900),
                paid("SUBSCRIPTION_PERIOD", 7_900),
                paid("SUBSCRIPTION_PERIOD", 7_900),
                paid("SUBSCRIPTION_PERIOD", 2_900),
                paid("SUBSCRIPTION_PERIOD", 2_900),
                paid("SUBSCRIPTION_PERIOD", 2_900),
            ]
        );
        let data = query(
            &app,
            &format!(
                "{{ invoices(first: 20, filter: {{ accountId: \"{account}\" }}, \
                 sort: {{ field: NUMBER, direction: ASC }}) {{ nodes {{ number issuedAt }} }} \
                 subscriptions(filter: {{ accountId: \"{account}\" }}) {{ nodes {{ status \
                 periodStart periodEnd endedAt planCode }} }} }}"
            ),
        )
        .await;
        let numbers: Vec<&str> = data["invoices"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["number"].as_str().unwrap())
            .collect();
        let gap_free: Vec<String> = (1..=11).map(|n| format!("INV-2025-{n:06}")).collect();
        assert_eq!(numbers, gap_free);
        assert_eq!(
            data["subscriptions"]["nodes"][0],
            json!({
                "status": "EXPIRED",
                "periodStart": "2025-10-31T00:00:00+00:00",
                "periodEnd": "2025-11-30T00:00:00+00:00",
                "endedAt": "2025-11-30T00:00:00+00:00",
                "planCode": "starter",
            })
        );
        // Nothing is due any more, and another run does nothing.
        let again = scheduler.run_due(on(2026, 2, 15)).await.unwrap();
        assert_eq!(again.carried_out, 0);
        // One runner across servers: while another holds the lock, a run does nothing.
        let mut other = app.db.pool.acquire().await.unwrap();
        sqlx::query("SELECT pg_advisory_lock(projection_lock_key('scheduler'))")
            .execute(&mut *other)
            .await
            .unwrap();
        assert!(!scheduler.run_due(on(2026, 2, 15)).await.unwrap().ran);
        sqlx::query("SELECT pg_advisory_unlock(projection_lock_key('scheduler'))")
            .execute(&mut *other)
            .await
            .unwrap();
        assert!(scheduler.run_due(on(2026, 2, 15)).await.unwrap().ran);
    }

    /// Pays `invoice` (its total, no credits) with a payment recorded and approved at `at`.
    async fn pay(bus: &CommandBus, account_id: Uuid, invoice: &str, total: i64, at: DateTime<Utc>) {
        use domain::billing::payment::{Payment, PaymentCommand, PaymentMethod};
        use domain::kit::money::{Currency, Money};
        let payment = Uuid::now_v7().to_string();
        let record = PaymentCommand::Record {
            account_id,
            amount: Money::new(total, Currency::parse("USD").unwrap()),
            credits: Credits::new(0),
            method: PaymentMethod::Wire,
            reference: None,
            note: None,
            invoice_id: Some(invoice.parse().unwrap()),
            package: None,
        };
        bus.execute::<Payment>(&payment, record, &context(at))
            .await
            .unwrap();
        let approve = PaymentCommand::Approve {
            approver: "billing-desk".into(),
        };
        bus.execute::<Payment>(&payment, approve, &context(at))
            .await
            .unwrap();
    }

    /// The account's pending invoices: (id, total).
    async fn pending_invoices(app: &TestApp, account: &str) -> Vec<(String, i64)> {
        let data = query(
            app,
            &format!(
                "{{ invoices(first: 20, filter: {{ accountId: \"{account}\", status: [PENDING] }}) \
                 {{ nodes {{ id totalMinor }} }} }}"
            ),
        )
        .await;
        data["invoices"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["id"].as_str().unwrap().to_string(),
                    n["totalMinor"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    async fn event_types(app: &TestApp, aggregate_id: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(aggregate_id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_missed_payment_is_reminded_charged_a_late_fee_suspended_paid_and_reinstated() {
        let app = TestApp::spawn_with(|s| s.scheduler_every = std::time::Duration::ZERO).await;
        let account = open_account(&app, "late-payer").await;
        let account_id: Uuid = account.parse().unwrap();
        let bus = CommandBus::new(app.db.pool.clone());
        // The default late fee: 5 % of the total, half to even.
        let scheduler = Scheduler::new(bus.clone(), app.db.settings().late_fee);
        let subscription = Subscription::id_for(account_id).to_string();
        let start = SubscriptionCommand::Start {
            account_id,
            plan: plan(PlanTier::Starter),
            at: on(2025, 1, 31),
            trial_days: None,
        };
        bus.execute::<Subscription>(&subscription, start, &context(on(2025, 1, 31)))
            .await
            .unwrap();
        settled(&app).await;
        // January is paid on time.
        let first = pending_invoices(&app, &account).await;
        assert_eq!(first.len(), 1);
        pay(&bus, account_id, &first[0].0, 2_900, on(2025, 2, 2)).await;
        // February's invoice (issued 28 February, due 7 March) is not.
        run_until(&app, &scheduler, on(2025, 3, 25)).await;
        settled(&app).await;
        let data = query(
            &app,
            &format!(
                "{{ account(id: \"{account}\") {{ status }} \
                 subscription(id: \"{subscription}\") {{ status }} \
                 invoices(first: 20, filter: {{ accountId: \"{account}\" }}, \
                 sort: {{ field: NUMBER, direction: ASC }}) {{ nodes {{ number status totalMinor \
                 remindersSent lastReminderOn lateFees dunningStage dueAt }} }} }}"
            ),
        )
        .await;
        assert_eq!(data["account"]["status"], "SUSPENDED");
        assert_eq!(data["subscription"]["status"], "PAST_DUE");
        assert_eq!(
            data["invoices"]["nodes"],
            json!([
                { "number": "INV-2025-000001", "status": "PAID", "totalMinor": 2_900,
                  "remindersSent": 0, "lastReminderOn": null, "lateFees": 0,
                  "dunningStage": null, "dueAt": "2025-02-07T00:00:00+00:00" },
                { "number": "INV-2025-000002", "status": "PENDING", "totalMinor": 2_900,
                  "remindersSent": 2, "lastReminderOn": "2025-03-14", "lateFees": 1,
                  "dunningStage": "SUSPENSION", "dueAt": "2025-03-07T00:00:00+00:00" },
                // 5 % of 2,900 = 145, billed on 14 March, due a week later, never dunned.
                { "number": "INV-2025-000003", "status": "PENDING", "totalMinor": 145,
                  "remindersSent": 0, "lastReminderOn": null, "lateFees": 0,
                  "dunningStage": null, "dueAt": "2025-03-21T00:00:00+00:00" },
            ])
        );

        // Paid on 25 March, with the late fee: active again, the subscription reinstated.
        for (invoice, total) in pending_invoices(&app, &account).await {
            pay(&bus, account_id, &invoice, total, on(2025, 3, 25)).await;
        }
        settled(&app).await;
        // March 31 renews; that invoice is paid the next day, before it is due.
        run_until(&app, &scheduler, on(2025, 4, 1)).await;
        let april = pending_invoices(&app, &account).await;
        assert_eq!(april.len(), 1, "{april:?}");
        pay(&bus, account_id, &april[0].0, 2_900, on(2025, 4, 1)).await;
        run_until(&app, &scheduler, on(2025, 4, 20)).await;
        settled(&app).await;

        let (owner, ledger, invoices) = books(&app, &account).await;
        assert_eq!(owner, json!({ "plan": "STARTER", "balance": 1_000 }));
        assert_eq!(
            ledger,
            vec![
                line("INCLUDED", 1_000, 1_000),
                line("EXPIRY", -1_000, 0),
                line("INCLUDED", 1_000, 1_000),
                line("EXPIRY", -1_000, 0),
                line("INCLUDED", 1_000, 1_000),
            ]
        );
        assert_eq!(
            invoices,
            vec![
                invoice("SUBSCRIPTION_PERIOD", 2_900, "PAID"),
                invoice("SUBSCRIPTION_PERIOD", 2_900, "PAID"),
                invoice("LATE_FEE", 145, "PAID"),
                invoice("SUBSCRIPTION_PERIOD", 2_900, "PAID"),
            ]
        );
        assert_eq!(
            event_types(&app, &subscription).await,
            [
                "SubscriptionStarted",
                "SubscriptionRenewed",
                "SubscriptionPastDue",
                "SubscriptionActivated",
                "SubscriptionRenewed",
            ]
        );
        let account_events: Vec<String> = event_types(&app, &account)
            .await
            .into_iter()
            .filter(|t| t.starts_with("Account"))
            .collect();
        assert_eq!(
            account_events,
            [
                "AccountOpened",
                "AccountPlanChanged",
                "AccountSuspended",
                "AccountActivated"
            ]
        );
        let data = query(
            &app,
            &format!("{{ subscription(id: \"{subscription}\") {{ status periodEnd }} }}"),
        )
        .await;
        assert_eq!(
            data["subscription"],
            json!({ "status": "ACTIVE", "periodEnd": "2025-04-30T00:00:00+00:00" })
        );
    }
}
