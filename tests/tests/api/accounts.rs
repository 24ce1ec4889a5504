//! Accounts and their credit ledger, through GraphQL over real HTTP: concurrency, audit, bad
//! input, soft deletion and the account list.

use crate::helpers::{create_operator, create_service, error_code, eventually, TestApp};
use crate::payments::{approve_payment, payment_mutation, record_payment};
use futures::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;

pub const SYSTEM_ACCOUNT_ID: &str = "5157e3a0-0000-4000-8000-aa55ad310001";
const ACCOUNT_FIELDS: &str = "id name slug ownerEmail plan status balance";

pub async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Sends `mutation { <name>(input: $input) { position caughtUp replayed account {..} } }`.
pub async fn account_mutation_as(
    app: &TestApp,
    token: &str,
    name: &str,
    input_type: &str,
    input: Value,
) -> Value {
    let query = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ \
         position caughtUp replayed account {{ {ACCOUNT_FIELDS} }} }} }}"
    );
    app.graphql_as(Some(token), &query, json!({ "input": input }))
        .await
        .1
}

pub async fn account_mutation(app: &TestApp, name: &str, input_type: &str, input: Value) -> Value {
    account_mutation_as(app, &app.token, name, input_type, input).await
}

/// Runs an account mutation that must succeed, and returns its payload.
pub async fn must(app: &TestApp, name: &str, input_type: &str, input: Value) -> Value {
    let body = account_mutation(app, name, input_type, input).await;
    assert!(body["errors"].is_null(), "{name} failed: {body}");
    assert_eq!(body["data"][name]["caughtUp"], true, "{body}");
    body["data"][name].clone()
}

/// Opens an account on the FREE plan and returns its id.
pub async fn open_account(app: &TestApp, slug: &str) -> String {
    open_account_on(app, slug, "FREE").await
}

pub async fn open_account_on(app: &TestApp, slug: &str, plan: &str) -> String {
    let payload = must(
        app,
        "openAccount",
        "OpenAccountInput",
        json!({
            "name": format!("Account {slug}"),
            "slug": slug,
            "ownerEmail": format!("owner@{slug}.example.com"),
            "plan": plan,
        }),
    )
    .await;
    assert_eq!(payload["account"]["slug"], slug);
    payload["account"]["id"].as_str().unwrap().to_string()
}

pub async fn adjust(app: &TestApp, account_id: &str, amount: i64, reason: &str) -> Value {
    account_mutation(
        app,
        "adjustCredits",
        "AdjustCreditsInput",
        json!({ "accountId": account_id, "amount": amount, "reason": reason }),
    )
    .await
}

pub async fn suspend(app: &TestApp, account_id: &str, reason: &str) -> Value {
    account_mutation(
        app,
        "suspendAccount",
        "AccountReasonInput",
        json!({ "accountId": account_id, "reason": reason }),
    )
    .await
}

pub async fn consume_as(app: &TestApp, token: &str, account_id: &str, credits: i64) -> Value {
    account_mutation_as(
        app,
        token,
        "consumeCredits",
        "ConsumeCreditsInput",
        json!({
            "accountId": account_id,
            "operation": "content_generation",
            "units": 1,
            "model": "gpt-4o-mini",
            "credits": credits,
        }),
    )
    .await
}

/// The account as GraphQL shows it.
pub async fn account(app: &TestApp, account_id: &str) -> Value {
    let body = app
        .graphql(
            &format!("query($id: ID!) {{ account(id: $id) {{ {ACCOUNT_FIELDS} }} }}"),
            json!({ "id": account_id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["account"].clone()
}

/// The balance in `read.accounts` and the sum of the account's ledger.
pub async fn read_balance_and_ledger_sum(app: &TestApp, account_id: &str) -> (i64, i64) {
    let id: uuid::Uuid = account_id.parse().unwrap();
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM read.accounts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let sum: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount), 0)::bigint FROM read.credit_ledger WHERE account_id = $1",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    (balance, sum)
}

async fn events_of_type(app: &TestApp, event_type: &str, aggregate_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1 AND aggregate_id = $2")
        .bind(event_type)
        .bind(aggregate_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// A server whose mutations wait longer for their read models than the production default, so
/// that a loaded test machine (tests run side by side) does not turn `caughtUp` false.
pub async fn spawn_app() -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.read_your_writes_timeout = Duration::from_secs(15);
    })
    .await
}

/// A server for tests that fire many requests at once: also a smaller pool, so that two such
/// tests running side by side stay well within the PostgreSQL server's connection limit.
pub async fn spawn_for_load() -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.read_your_writes_timeout = Duration::from_secs(15);
        settings.db_pool_size = 16;
    })
    .await
}

/// Waits until the audit log has a row for every event in the store.
async fn audit_caught_up(app: &TestApp) -> bool {
    eventually(Duration::from_secs(10), || async {
        let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM read.audit_log")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        audited == event_count(app).await
    })
    .await
}

#[tokio::test]
async fn the_system_account_exists_from_the_first_start() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            &format!("{{ account(slug: \"aws-admin\") {{ {ACCOUNT_FIELDS} }} }}"),
            json!({}),
        )
        .await;
    let system = &body["data"]["account"];
    assert_eq!(system["id"], SYSTEM_ACCOUNT_ID, "{body}");
    assert_eq!(system["status"], "ACTIVE");
    assert_eq!(system["balance"], 0);
    assert_eq!(account(&app, SYSTEM_ACCOUNT_ID).await["slug"], "aws-admin");
}

#[tokio::test]
async fn fifty_concurrent_debits_never_make_a_balance_negative_and_the_ledger_sums_to_it() {
    let app = spawn_for_load().await;
    let id = open_account(&app, "busy-account").await;
    let funded = adjust(&app, &id, 1000, "opening balance").await;
    assert_eq!(
        funded["data"]["adjustCredits"]["account"]["balance"], 1000,
        "{funded}"
    );

    let app = std::sync::Arc::new(app);
    let debits = (0..50).map(|i| {
        let app = app.clone();
        let id = id.clone();
        tokio::spawn(async move { adjust(&app, &id, -30, &format!("debit {i}")).await })
    });
    let answers: Vec<Value> = join_all(debits)
        .await
        .into_iter()
        .map(|joined| joined.expect("request task"))
        .collect();

    let mut succeeded = 0;
    for body in &answers {
        match error_code(body) {
            None => {
                succeeded += 1;
                let balance = body["data"]["adjustCredits"]["account"]["balance"]
                    .as_i64()
                    .expect("balance");
                assert!(balance >= 0, "{body}");
            }
            Some("INSUFFICIENT_CREDITS" | "CONFLICT") => {}
            Some(other) => panic!("unexpected error code {other}: {body}"),
        }
    }
    assert!(
        (1..=33).contains(&succeeded),
        "{succeeded} debits of 30 succeeded"
    );

    let (balance, ledger_sum) = read_balance_and_ledger_sum(&app, &id).await;
    assert_eq!(balance, 1000 - 30 * succeeded);
    assert!(balance >= 0);
    assert_eq!(ledger_sum, balance, "the ledger sums to the balance");
    assert_eq!(account(&app, &id).await["balance"], balance);
    assert_eq!(
        events_of_type(&app, "CreditsAdjusted", &id).await,
        1 + succeeded,
        "one event per successful debit"
    );
}

#[tokio::test]
async fn fifty_concurrent_usage_reports_never_make_a_balance_negative_and_the_ledger_sums_to_it() {
    let app = spawn_for_load().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let id = open_account(&app, "busy-platform").await;
    let funded = adjust(&app, &id, 1000, "opening balance").await;
    assert!(funded["errors"].is_null(), "{funded}");

    let app = std::sync::Arc::new(app);
    let reports = (0..50).map(|_| {
        let app = app.clone();
        let id = id.clone();
        let platform = platform.clone();
        tokio::spawn(async move { consume_as(&app, &platform, &id, 30).await })
    });
    let mut succeeded = 0;
    for joined in join_all(reports).await {
        let body = joined.expect("request task");
        match error_code(&body) {
            None => succeeded += 1,
            Some("INSUFFICIENT_CREDITS" | "CONFLICT") => {}
            Some(other) => panic!("unexpected error code {other}: {body}"),
        }
    }
    assert!(
        (1..=33).contains(&succeeded),
        "{succeeded} reports of 30 succeeded"
    );

    let (balance, ledger_sum) = read_balance_and_ledger_sum(&app, &id).await;
    assert_eq!(balance, 1000 - 30 * succeeded);
    assert_eq!(ledger_sum, balance, "the ledger sums to the balance");
    assert_eq!(account(&app, &id).await["balance"], balance);
    let consumed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM read.credit_ledger \
         WHERE account_id = $1::uuid AND kind = 'consumption' AND actor_kind = 'service'",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        consumed, succeeded,
        "one consumption row per report, by the service"
    );
}

#[tokio::test]
async fn every_mutation_leaves_one_audit_row_per_event_with_its_actor_and_reason() {
    let app = spawn_app().await;
    let id = open_account(&app, "audited").await;
    must(
        &app,
        "renameAccount",
        "RenameAccountInput",
        json!({ "accountId": id, "name": "Audited Inc." }),
    )
    .await;
    must(
        &app,
        "changeAccountPlan",
        "ChangeAccountPlanInput",
        json!({ "accountId": id, "plan": "GROWTH" }),
    )
    .await;
    must(
        &app,
        "suspendAccount",
        "AccountReasonInput",
        json!({ "accountId": id, "reason": "card declined" }),
    )
    .await;
    must(
        &app,
        "activateAccount",
        "AccountInput",
        json!({ "accountId": id }),
    )
    .await;
    must(
        &app,
        "adjustCredits",
        "AdjustCreditsInput",
        json!({ "accountId": id, "amount": 250, "reason": "goodwill for the outage" }),
    )
    .await;
    let paid = record_payment(&app, &id, 5000, 800).await;
    let approved = approve_payment(&app, &paid).await;
    assert!(approved["errors"].is_null(), "{approved}");
    assert_eq!(approved["data"]["approvePayment"]["caughtUp"], true);
    let unpaid = record_payment(&app, &id, 100, 10).await;
    let rejected = payment_mutation(
        &app,
        "rejectPayment",
        "PaymentReasonInput",
        json!({ "paymentId": unpaid, "reason": "cheque bounced" }),
    )
    .await;
    assert!(rejected["errors"].is_null(), "{rejected}");
    let refunded = payment_mutation(
        &app,
        "refundPayment",
        "PaymentReasonInput",
        json!({ "paymentId": paid, "reason": "customer asked for a refund" }),
    )
    .await;
    assert!(refunded["errors"].is_null(), "{refunded}");
    assert_eq!(refunded["data"]["refundPayment"]["caughtUp"], true);
    must(
        &app,
        "deleteAccount",
        "AccountReasonInput",
        json!({ "accountId": id, "reason": "customer left" }),
    )
    .await;
    must(
        &app,
        "restoreAccount",
        "AccountInput",
        json!({ "accountId": id }),
    )
    .await;

    assert!(
        audit_caught_up(&app).await,
        "the audit log has one row per event"
    );
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e \
         LEFT JOIN read.audit_log a ON a.position = e.position WHERE a.position IS NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(missing, 0, "every event has its own audit row");
    let anonymous: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM read.audit_log \
         WHERE coalesce(actor_id, '') = '' OR coalesce(actor_kind, '') = ''",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(anonymous, 0, "every audit row names its actor");

    let account_uuid: uuid::Uuid = id.parse().unwrap();
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, reason FROM read.audit_log WHERE account_id = $1 \
         ORDER BY occurred_at, position",
    )
    .bind(account_uuid)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let reason_of = |action: &str| -> Vec<Option<String>> {
        rows.iter()
            .filter(|(a, _)| a == action)
            .map(|(_, r)| r.clone())
            .collect()
    };
    for (action, reason) in [
        ("AccountSuspended", "card declined"),
        ("CreditsAdjusted", "goodwill for the outage"),
        ("AccountDeleted", "customer left"),
        ("PaymentRejected", "cheque bounced"),
        ("PaymentRefunded", "customer asked for a refund"),
        ("CreditsRefunded", "customer asked for a refund"),
    ] {
        assert_eq!(
            reason_of(action),
            vec![Some(reason.to_string())],
            "{action} in {rows:?}"
        );
    }
    for action in [
        "AccountOpened",
        "AccountRenamed",
        "AccountPlanChanged",
        "AccountActivated",
        "AccountRestored",
        "PaymentRecorded",
        "PaymentApproved",
        "CreditsPurchased",
    ] {
        assert!(
            !reason_of(action).is_empty(),
            "{action} is audited for the account: {rows:?}"
        );
    }

    let body = app
        .graphql(
            "query($id: ID!) { auditLog(first: 100, filter: { accountId: $id }, direction: ASC) { \
             totalCount nodes { action actorId actorKind reason accountId aggregateType } } }",
            json!({ "id": id }),
        )
        .await;
    let log = &body["data"]["auditLog"];
    assert_eq!(log["totalCount"], rows.len() as i64, "{body}");
    let nodes = log["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), rows.len());
    for (node, (action, reason)) in nodes.iter().zip(&rows) {
        assert_eq!(node["action"], action.as_str());
        assert_eq!(node["accountId"], id.as_str());
        assert_eq!(node["reason"].as_str(), reason.as_deref());
        assert!(!node["actorId"].as_str().unwrap().is_empty());
        assert!(!node["actorKind"].as_str().unwrap().is_empty());
    }
    let me = app.graphql("{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let suspended = nodes
        .iter()
        .find(|n| n["action"] == "AccountSuspended")
        .unwrap();
    assert_eq!(suspended["actorId"], me, "the operator is the actor");
    assert_eq!(suspended["actorKind"], "operator");
}

#[tokio::test]
async fn bad_account_input_gets_a_clear_error_code_and_changes_nothing() {
    let app = spawn_app().await;
    let id = open_account(&app, "taken-slug").await;
    let funded = adjust(&app, &id, 100, "opening balance").await;
    assert!(funded["errors"].is_null(), "{funded}");
    let operator = create_operator(&app.db.settings(), "support@example.com", false).await;
    let before = event_count(&app).await;

    let unknown = uuid::Uuid::new_v4().to_string();
    let long_name = "n".repeat(201);
    let long_reason = "r".repeat(501);
    let open = |slug: &str, name: &str| json!({ "name": name, "slug": slug, "ownerEmail": "o@example.com", "plan": "FREE" });
    let adjust_input = |account: &str, amount: i64, reason: &str| json!({ "accountId": account, "amount": amount, "reason": reason });
    let cases: Vec<(&str, &str, &str, Value, &str)> = vec![
        (
            "zero adjustment",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&id, 0, "nothing"),
            "VALIDATION",
        ),
        (
            "huge adjustment",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&id, 2_000_000_000, "a lot"),
            "VALIDATION",
        ),
        (
            "huge negative adjustment",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&id, -2_000_000_000, "a lot"),
            "VALIDATION",
        ),
        (
            "blank reason",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&id, 10, "   "),
            "VALIDATION",
        ),
        (
            "over-long reason",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&id, 10, &long_reason),
            "VALIDATION",
        ),
        (
            "debit beyond the balance",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&id, -101, "too much"),
            "INSUFFICIENT_CREDITS",
        ),
        (
            "adjusting an unknown account",
            "adjustCredits",
            "AdjustCreditsInput",
            adjust_input(&unknown, 10, "who?"),
            "NOT_FOUND",
        ),
        (
            "renaming an unknown account",
            "renameAccount",
            "RenameAccountInput",
            json!({ "accountId": unknown, "name": "Ghost" }),
            "NOT_FOUND",
        ),
        (
            "a malformed id",
            "renameAccount",
            "RenameAccountInput",
            json!({ "accountId": "abc", "name": "Ghost" }),
            "VALIDATION",
        ),
        (
            "an over-long name",
            "renameAccount",
            "RenameAccountInput",
            json!({ "accountId": id, "name": long_name }),
            "VALIDATION",
        ),
        (
            "a blank suspension reason",
            "suspendAccount",
            "AccountReasonInput",
            json!({ "accountId": id, "reason": "   " }),
            "VALIDATION",
        ),
        (
            "an over-long suspension reason",
            "suspendAccount",
            "AccountReasonInput",
            json!({ "accountId": id, "reason": long_reason }),
            "VALIDATION",
        ),
        (
            "a slug with a space and capitals",
            "openAccount",
            "OpenAccountInput",
            open("Bad Slug", "Bad"),
            "VALIDATION",
        ),
        (
            "a slug with hyphens at its ends",
            "openAccount",
            "OpenAccountInput",
            open("-x-", "Bad"),
            "VALIDATION",
        ),
        (
            "a slug too short",
            "openAccount",
            "OpenAccountInput",
            open("ab", "Bad"),
            "VALIDATION",
        ),
        (
            "an over-long account name",
            "openAccount",
            "OpenAccountInput",
            open("fresh-slug", &long_name),
            "VALIDATION",
        ),
        (
            "a blank account name",
            "openAccount",
            "OpenAccountInput",
            open("fresh-slug", "   "),
            "VALIDATION",
        ),
        (
            "a malformed owner e-mail",
            "openAccount",
            "OpenAccountInput",
            json!({ "name": "X", "slug": "fresh-slug", "ownerEmail": "nope", "plan": "FREE" }),
            "VALIDATION",
        ),
        (
            "a duplicate slug",
            "openAccount",
            "OpenAccountInput",
            open("taken-slug", "Copycat"),
            "CONFLICT",
        ),
        (
            "suspending the system account",
            "suspendAccount",
            "AccountReasonInput",
            json!({ "accountId": SYSTEM_ACCOUNT_ID, "reason": "why not" }),
            "FORBIDDEN",
        ),
        (
            "deleting the system account",
            "deleteAccount",
            "AccountReasonInput",
            json!({ "accountId": SYSTEM_ACCOUNT_ID, "reason": "why not" }),
            "FORBIDDEN",
        ),
        (
            "restoring a live account",
            "restoreAccount",
            "AccountInput",
            json!({ "accountId": id }),
            "CONFLICT",
        ),
    ];
    for (what, mutation, input_type, input, code) in cases {
        let body = account_mutation(&app, mutation, input_type, input).await;
        assert_eq!(error_code(&body), Some(code), "{what}: {body}");
        assert!(
            !body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{what}: {body}"
        );
        assert_eq!(event_count(&app).await, before, "{what} changed nothing");
    }

    // Usage is reported by the platform's service principal, not by operators.
    for token in [app.token.as_str(), operator.as_str()] {
        let body = consume_as(&app, token, &id, 10).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }
    assert_eq!(event_count(&app).await, before);

    let system = account(&app, SYSTEM_ACCOUNT_ID).await;
    assert_eq!(system["status"], "ACTIVE");
    let unchanged = account(&app, &id).await;
    assert_eq!(unchanged["balance"], 100);
    assert_eq!(unchanged["name"], "Account taken-slug");
    assert_eq!(unchanged["status"], "ACTIVE");
}

#[tokio::test]
async fn a_service_principal_may_report_usage_and_nothing_else() {
    let app = spawn_app().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let id = open_account(&app, "metered").await;
    adjust(&app, &id, 100, "opening balance").await;
    let before = event_count(&app).await;

    let body = account_mutation_as(
        &app,
        &platform,
        "adjustCredits",
        "AdjustCreditsInput",
        json!({ "accountId": id, "amount": 1000, "reason": "free money" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = account_mutation_as(
        &app,
        &platform,
        "suspendAccount",
        "AccountReasonInput",
        json!({ "accountId": id, "reason": "because" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(event_count(&app).await, before);

    let bad = [
        json!({ "accountId": id, "operation": "x", "units": 0, "credits": 5 }),
        json!({ "accountId": id, "operation": "x", "units": 1, "credits": 0 }),
        json!({ "accountId": id, "operation": "x", "units": 1, "credits": -5 }),
        json!({ "accountId": id, "operation": "   ", "units": 1, "credits": 5 }),
        json!({ "accountId": "abc", "operation": "x", "units": 1, "credits": 5 }),
    ];
    for input in bad {
        let body = account_mutation_as(
            &app,
            &platform,
            "consumeCredits",
            "ConsumeCreditsInput",
            input.clone(),
        )
        .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{input}: {body}");
    }
    let body = consume_as(&app, &platform, &id, 101).await;
    assert_eq!(error_code(&body), Some("INSUFFICIENT_CREDITS"), "{body}");
    assert_eq!(event_count(&app).await, before);

    let body = consume_as(&app, &platform, &id, 40).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["consumeCredits"]["account"]["balance"], 60);
    assert_eq!(body["data"]["consumeCredits"]["caughtUp"], true);
    let ledger = app
        .graphql(
            "query($id: ID!) { creditLedger(filter: { accountId: $id, kind: [CONSUMPTION] }) { \
             nodes { amount balanceAfter operation model units actorKind } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        ledger["data"]["creditLedger"]["nodes"],
        json!([{
            "amount": -40, "balanceAfter": 60, "operation": "content_generation",
            "model": "gpt-4o-mini", "units": 1, "actorKind": "service",
        }]),
        "{ledger}"
    );
}

#[tokio::test]
async fn a_suspended_account_may_not_consume_credits() {
    let app = spawn_app().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let id = open_account(&app, "paused").await;
    adjust(&app, &id, 100, "opening balance").await;
    let body = suspend(&app, &id, "unpaid invoice").await;
    assert_eq!(
        body["data"]["suspendAccount"]["account"]["status"], "SUSPENDED",
        "{body}"
    );
    let before = event_count(&app).await;

    let body = consume_as(&app, &platform, &id, 10).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = suspend(&app, &id, "again").await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    assert_eq!(event_count(&app).await, before);

    // Adjustments still apply while suspended.
    let body = adjust(&app, &id, 5, "correction").await;
    assert_eq!(
        body["data"]["adjustCredits"]["account"]["balance"], 105,
        "{body}"
    );
}

#[tokio::test]
async fn a_soft_deleted_account_refuses_everything_but_restore_and_restore_brings_it_back() {
    let app = spawn_app().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let id = open_account_on(&app, "gone-soon", "STARTER").await;
    adjust(&app, &id, 500, "opening balance").await;
    suspend(&app, &id, "unpaid").await;
    let deleted = must(
        &app,
        "deleteAccount",
        "AccountReasonInput",
        json!({ "accountId": id, "reason": "customer left" }),
    )
    .await;
    assert_eq!(deleted["account"]["status"], "DELETED");
    let before = event_count(&app).await;

    let refusals: Vec<(&str, &str, Value)> = vec![
        (
            "renameAccount",
            "RenameAccountInput",
            json!({ "accountId": id, "name": "New name" }),
        ),
        (
            "changeAccountPlan",
            "ChangeAccountPlanInput",
            json!({ "accountId": id, "plan": "SCALE" }),
        ),
        (
            "suspendAccount",
            "AccountReasonInput",
            json!({ "accountId": id, "reason": "again" }),
        ),
        (
            "activateAccount",
            "AccountInput",
            json!({ "accountId": id }),
        ),
        (
            "deleteAccount",
            "AccountReasonInput",
            json!({ "accountId": id, "reason": "again" }),
        ),
        (
            "adjustCredits",
            "AdjustCreditsInput",
            json!({ "accountId": id, "amount": 10, "reason": "more" }),
        ),
        (
            "adjustCredits",
            "AdjustCreditsInput",
            json!({ "accountId": id, "amount": -10, "reason": "less" }),
        ),
    ];
    for (mutation, input_type, input) in refusals {
        let body = account_mutation(&app, mutation, input_type, input).await;
        assert_eq!(error_code(&body), Some("CONFLICT"), "{mutation}: {body}");
    }
    let body = consume_as(&app, &platform, &id, 10).await;
    assert_eq!(
        error_code(&body),
        Some("CONFLICT"),
        "consumeCredits: {body}"
    );
    let body = payment_mutation(
        &app,
        "recordPayment",
        "RecordPaymentInput",
        json!({ "accountId": id, "amountMinor": 100, "currency": "USD", "credits": 10, "method": "WIRE" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "recordPayment: {body}");
    assert_eq!(
        event_count(&app).await,
        before,
        "the refusals changed nothing"
    );

    let listed = app
        .graphql(
            "{ accounts(filter: { search: \"gone-soon\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["accounts"]["totalCount"], 0,
        "hidden by default: {listed}"
    );

    let restored = must(
        &app,
        "restoreAccount",
        "AccountInput",
        json!({ "accountId": id, "reason": "came back" }),
    )
    .await;
    assert_eq!(
        restored["account"]["status"], "SUSPENDED",
        "back to the status it had"
    );
    assert_eq!(restored["account"]["balance"], 500);
    assert_eq!(restored["account"]["plan"], "STARTER");
    let renamed = must(
        &app,
        "renameAccount",
        "RenameAccountInput",
        json!({ "accountId": id, "name": "Back again" }),
    )
    .await;
    assert_eq!(renamed["account"]["name"], "Back again");
    let listed = app
        .graphql(
            "{ accounts(filter: { search: \"gone-soon\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["data"]["accounts"]["totalCount"], 1, "{listed}");
}

async fn listed_slugs(app: &TestApp, filter: Value) -> Vec<String> {
    let body = app
        .graphql(
            "query($filter: AccountFilter) { accounts(first: 100, filter: $filter, \
             sort: { field: NAME, direction: ASC }) { totalCount nodes { slug } } }",
            json!({ "filter": filter }),
        )
        .await;
    assert!(body["errors"].is_null(), "{filter}: {body}");
    let nodes = body["data"]["accounts"]["nodes"].as_array().unwrap();
    assert_eq!(
        body["data"]["accounts"]["totalCount"],
        nodes.len() as i64,
        "{body}"
    );
    nodes
        .iter()
        .map(|n| n["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_account_list_filters_on_status_plan_balance_and_search() {
    let app = spawn_app().await;
    let alpha = open_account_on(&app, "alpha-co", "FREE").await;
    let beta = open_account_on(&app, "beta-co", "STARTER").await;
    let gamma = open_account_on(&app, "gamma-ltd", "GROWTH").await;
    let delta = open_account_on(&app, "delta-ltd", "GROWTH").await;
    adjust(&app, &alpha, 50, "seed").await;
    adjust(&app, &beta, 500, "seed").await;
    adjust(&app, &gamma, 5000, "seed").await;
    suspend(&app, &beta, "late payment").await;
    must(
        &app,
        "deleteAccount",
        "AccountReasonInput",
        json!({ "accountId": delta, "reason": "closed" }),
    )
    .await;

    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        listed_slugs(&app, json!({})).await,
        strings(&["alpha-co", "beta-co", "gamma-ltd", "aws-admin"]),
        "all but the deleted, by name (the system account is `igny8 (system)`)"
    );
    assert_eq!(
        listed_slugs(&app, json!({ "status": ["SUSPENDED"] })).await,
        strings(&["beta-co"])
    );
    assert_eq!(
        listed_slugs(&app, json!({ "status": ["DELETED"] })).await,
        strings(&["delta-ltd"])
    );
    assert_eq!(
        listed_slugs(
            &app,
            json!({ "status": ["ACTIVE", "DELETED"], "plan": ["GROWTH"] })
        )
        .await,
        strings(&["delta-ltd", "gamma-ltd"])
    );
    assert_eq!(
        listed_slugs(&app, json!({ "plan": ["FREE", "STARTER"] })).await,
        strings(&["alpha-co", "beta-co"])
    );
    assert_eq!(
        listed_slugs(&app, json!({ "balanceMin": 100, "balanceMax": 5000 })).await,
        strings(&["beta-co", "gamma-ltd"])
    );
    assert_eq!(
        listed_slugs(&app, json!({ "balanceMin": 1 })).await,
        strings(&["alpha-co", "beta-co", "gamma-ltd"])
    );
    assert_eq!(
        listed_slugs(&app, json!({ "search": "LTD" })).await,
        strings(&["gamma-ltd"])
    );
    assert_eq!(
        listed_slugs(&app, json!({ "search": "owner@beta" })).await,
        strings(&["beta-co"]),
        "search covers the owner's e-mail"
    );
    assert_eq!(
        listed_slugs(&app, json!({ "search": "-co", "balanceMax": 100 })).await,
        strings(&["alpha-co"])
    );
    assert!(listed_slugs(&app, json!({ "search": "%" }))
        .await
        .is_empty());

    let body = app
        .graphql(
            "{ accounts(filter: { balanceMin: 10, balanceMax: 5 }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}
