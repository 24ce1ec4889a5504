//! Auditors' reads, straight from the log: every aggregate's versions with field-level diffs,
//! its state as of a version, a recording time or a business time, and "who changed this?".

use crate::accounts::{must, open_account};
use crate::helpers::{error_code, TestApp};
use crate::payments::record_payment;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

const VERSION_FIELDS: &str = "version actorId actorKind occurredAt recordedAt reason requestId \
    correlationId events { sequence position eventType payload } \
    changes { path kind old new }";

/// What the read model showed of an account right after a command, and when.
struct Seen {
    account: Value,
    at: DateTime<Utc>,
}

/// Runs the account commands of an ordinary life and remembers what the projections showed
/// after each (every mutation answers once its read models have caught up).
async fn a_life(app: &TestApp) -> (String, Vec<Seen>) {
    let id = open_account(app, "chronicle").await;
    let mut seen = vec![Seen {
        account: account(app, &id).await,
        at: Utc::now(),
    }];
    let steps = [
        (
            "adjustCredits",
            "AdjustCreditsInput",
            json!({ "accountId": id, "amount": 100, "reason": "welcome credits" }),
        ),
        (
            "adjustCredits",
            "AdjustCreditsInput",
            json!({ "accountId": id, "amount": -30, "reason": "correction" }),
        ),
        (
            "changeAccountPlan",
            "ChangeAccountPlanInput",
            json!({ "accountId": id, "plan": "STARTER", "reason": "upgrade" }),
        ),
        (
            "suspendAccount",
            "AccountReasonInput",
            json!({ "accountId": id, "reason": "fraud check" }),
        ),
        (
            "activateAccount",
            "AccountInput",
            json!({ "accountId": id, "reason": "cleared" }),
        ),
        (
            "renameAccount",
            "RenameAccountInput",
            json!({ "accountId": id, "name": "Chronicle Ltd" }),
        ),
    ];
    for (name, input_type, input) in steps {
        must(app, name, input_type, input).await;
        seen.push(Seen {
            account: account(app, &id).await,
            at: Utc::now(),
        });
    }
    (id, seen)
}

async fn account(app: &TestApp, id: &str) -> Value {
    let body = app
        .graphql(
            "query($id: ID!) { account(id: $id) { name plan status balance } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["account"].clone()
}

/// The folded state, in the read model's terms.
fn as_read_model(state: &Value) -> Value {
    let status = if state["deleted"] == true {
        "DELETED".to_string()
    } else {
        state["status"].as_str().unwrap_or_default().to_uppercase()
    };
    json!({
        "name": state["name"],
        "plan": state["plan"].as_str().unwrap_or_default().to_uppercase(),
        "status": status,
        "balance": state["balance"],
    })
}

async fn history(app: &TestApp, id: &str, args: &str) -> Value {
    let body = app
        .graphql(
            &format!(
                "query($id: ID!) {{ account(id: $id) {{ history({args}) {{ totalCount \
                 pageInfo {{ hasNextPage endCursor }} nodes {{ {VERSION_FIELDS} }} }} }} }}"
            ),
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["account"]["history"].clone()
}

async fn as_of(app: &TestApp, id: &str, at: Value) -> Value {
    app.graphql(
        "query($id: ID!, $at: AsOf!) { aggregateAsOf(aggregateType: \"account\", \
         aggregateId: $id, asOf: $at) { version latestVersion state \
         stoppedAt { sequence position eventType occurredAt recordedAt } } }",
        json!({ "id": id, "at": at }),
    )
    .await
}

#[tokio::test]
async fn an_accounts_history_lists_each_command_with_who_why_and_what_changed() {
    let app = TestApp::spawn().await;
    let (id, _) = a_life(&app).await;
    let page = history(&app, &id, "first: 100").await;
    let versions = page["nodes"].as_array().unwrap();
    assert_eq!(page["totalCount"], 7, "{page}");
    assert_eq!(versions.len(), 7);
    let actions: Vec<&str> = versions
        .iter()
        .map(|v| v["events"][0]["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "AccountOpened",
            "CreditsAdjusted",
            "CreditsAdjusted",
            "AccountPlanChanged",
            "AccountSuspended",
            "AccountActivated",
            "AccountRenamed"
        ]
    );
    // Versions are the sequences of their last events, in order.
    let numbers: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
    for version in versions {
        assert_eq!(version["actorKind"], "operator", "{version}");
        assert!(version["requestId"].is_string(), "{version}");
        assert!(version["correlationId"].is_string(), "{version}");
    }
    let correction = &versions[2];
    assert_eq!(correction["reason"], "correction");
    assert_eq!(
        correction["changes"],
        json!([{ "path": "balance", "kind": "CHANGED", "old": 100, "new": 70 }])
    );
    let suspended = &versions[4];
    assert_eq!(suspended["reason"], "fraud check");
    assert_eq!(
        suspended["changes"],
        json!([{ "path": "status", "kind": "CHANGED", "old": "active", "new": "suspended" }])
    );

    // Filters: by action, by business time, by actor, by field; pages follow the cursor.
    let adjusted = history(&app, &id, "filter: { action: \"CreditsAdjusted\" }").await;
    assert_eq!(adjusted["totalCount"], 2);
    let nobody = history(&app, &id, "filter: { actorId: \"someone-else\" }").await;
    assert_eq!(nobody["totalCount"], 0);
    let future = history(
        &app,
        &id,
        "filter: { occurred: { from: \"2099-01-01T00:00:00Z\" } }",
    )
    .await;
    assert_eq!(future["totalCount"], 0);
    let plan = history(&app, &id, "filter: { field: \"plan\" }").await;
    assert_eq!(plan["totalCount"], 1, "{plan}");
    let first = history(&app, &id, "first: 3").await;
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap();
    let rest = history(&app, &id, &format!("first: 10, after: \"{cursor}\"")).await;
    let numbers: Vec<i64> = rest["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 5, 6, 7]);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn time_travel_to_every_version_and_moment_shows_what_the_projections_showed_then() {
    let app = TestApp::spawn().await;
    let (id, seen) = a_life(&app).await;
    for (index, then) in seen.iter().enumerate() {
        let version = index as i64 + 1;
        let body = as_of(&app, &id, json!({ "version": version })).await;
        assert!(body["errors"].is_null(), "{body}");
        let state = &body["data"]["aggregateAsOf"];
        assert_eq!(state["version"], version);
        assert_eq!(state["latestVersion"], seen.len() as i64);
        assert_eq!(state["stoppedAt"]["sequence"], version);
        assert_eq!(
            as_read_model(&state["state"]),
            then.account,
            "version {version}"
        );

        for at in [
            json!({ "recordedAt": then.at }),
            json!({ "occurredAt": then.at }),
        ] {
            let body = as_of(&app, &id, at.clone()).await;
            assert!(body["errors"].is_null(), "{body}");
            let state = &body["data"]["aggregateAsOf"];
            assert_eq!(state["version"], version, "{at}");
            assert_eq!(as_read_model(&state["state"]), then.account, "{at}");
        }
    }
    // The same through the account itself.
    let body = app
        .graphql(
            "query($id: ID!) { account(id: $id) { asOf(at: { version: 3 }) { state } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        as_read_model(&body["data"]["account"]["asOf"]["state"]),
        seen[2].account,
        "{body}"
    );
}

#[tokio::test]
async fn who_changed_the_balance_is_answered_from_the_log() {
    let app = TestApp::spawn().await;
    let (id, _) = a_life(&app).await;
    let body = app
        .graphql(
            "query($id: ID!) { account(id: $id) { changes(field: BALANCE) { totalCount \
             nodes { version actorId reason changes { path old new } } } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let changes = &body["data"]["account"]["changes"];
    assert_eq!(changes["totalCount"], 2, "{changes}");
    let lines: Vec<(Value, Value, Value)> = changes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert!(v["actorId"].is_string());
            let change = &v["changes"][0];
            (
                v["reason"].clone(),
                change["old"].clone(),
                change["new"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (json!("welcome credits"), json!(0), json!(100)),
            (json!("correction"), json!(100), json!(70)),
        ]
    );
}

#[tokio::test]
async fn payments_and_operators_have_histories_and_any_type_can_be_asked_by_name() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "payer").await;
    let payment = record_payment(&app, &account, 5000, 500).await;
    let body = app
        .graphql(
            "query($id: ID!) { payment(id: $id) { history { nodes { version \
             events { eventType } } } asOf(at: { version: 1 }) { state } } \
             operators(first: 1) { nodes { history { totalCount } } } \
             aggregateTypes }",
            json!({ "id": payment }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["payment"]["history"]["nodes"][0]["events"][0]["eventType"],
        "PaymentRecorded"
    );
    assert!(body["data"]["payment"]["asOf"]["state"].is_object());
    assert!(body["data"]["operators"]["nodes"][0]["history"]["totalCount"].as_i64() >= Some(1));
    let types = body["data"]["aggregateTypes"].as_array().unwrap();
    for name in ["account", "payment", "operator", "slug_claim"] {
        assert!(types.contains(&json!(name)), "{types:?}");
    }
    let body = app
        .graphql(
            "query($id: ID!) { aggregateHistory(aggregateType: \"payment\", aggregateId: $id) { \
             totalCount } }",
            json!({ "id": payment }),
        )
        .await;
    assert_eq!(body["data"]["aggregateHistory"]["totalCount"], 1, "{body}");
}

#[tokio::test]
async fn bad_history_and_time_travel_requests_get_clear_codes() {
    let app = TestApp::spawn().await;
    let (id, seen) = a_life(&app).await;
    let before = seen[0].at - chrono::Duration::hours(1);
    let cases = [
        (
            "account",
            id.as_str(),
            json!({ "version": 0 }),
            "VALIDATION",
        ),
        (
            "account",
            id.as_str(),
            json!({ "version": 8 }),
            "VALIDATION",
        ),
        (
            "account",
            id.as_str(),
            json!({ "version": -5 }),
            "VALIDATION",
        ),
        (
            "account",
            id.as_str(),
            json!({ "recordedAt": before }),
            "NOT_FOUND",
        ),
        (
            "account",
            id.as_str(),
            json!({ "occurredAt": before }),
            "NOT_FOUND",
        ),
        (
            "account",
            id.as_str(),
            json!({ "recordedAt": "1999-01-01T00:00:00Z" }),
            "NOT_FOUND",
        ),
        (
            "account",
            id.as_str(),
            json!({ "recordedAt": "2999-01-01T00:00:00Z" }),
            "VALIDATION",
        ),
        (
            "account",
            id.as_str(),
            json!({ "occurredAt": "2999-01-01T00:00:00Z" }),
            "VALIDATION",
        ),
        (
            "account",
            "00000000-0000-0000-0000-000000000000",
            json!({ "version": 1 }),
            "NOT_FOUND",
        ),
        (
            "account",
            "not an id \u{0}",
            json!({ "version": 1 }),
            "VALIDATION",
        ),
        (
            "spaceship",
            id.as_str(),
            json!({ "version": 1 }),
            "VALIDATION",
        ),
    ];
    for (aggregate_type, aggregate_id, at, code) in cases {
        let body = app
            .graphql(
                "query($t: String!, $id: ID!, $at: AsOf!) { aggregateAsOf(aggregateType: $t, \
                 aggregateId: $id, asOf: $at) { version } }",
                json!({ "t": aggregate_type, "id": aggregate_id, "at": at }),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some(code),
            "{aggregate_type} {aggregate_id} {at}: {body}"
        );
    }
    // Malformed moments: two at once, none, a time that is not one.
    for at in [
        json!({ "version": 1, "recordedAt": "2026-01-01T00:00:00Z" }),
        json!({}),
        json!({ "recordedAt": "yesterday" }),
    ] {
        let body = as_of(&app, &id, at.clone()).await;
        assert!(
            body["data"].is_null() || body["data"]["aggregateAsOf"].is_null(),
            "{body}"
        );
        assert!(error_code(&body).is_some(), "{at}: {body}");
    }
    for (args, code) in [
        ("aggregateType: \"account\", aggregateId: \"nope\"", "NOT_FOUND"),
        ("aggregateType: \"ACCOUNT\", aggregateId: \"nope\"", "VALIDATION"),
        (
            "aggregateType: \"account\", aggregateId: \"x\", after: \"garbage\"",
            "VALIDATION",
        ),
        (
            "aggregateType: \"account\", aggregateId: \"x\", \
             filter: { occurred: { from: \"2030-01-01T00:00:00Z\", to: \"2020-01-01T00:00:00Z\" } }",
            "VALIDATION",
        ),
        (
            "aggregateType: \"account\", aggregateId: \"x\", filter: { field: \"a\\u0000\" }",
            "VALIDATION",
        ),
    ] {
        let body = app
            .graphql(
                &format!("{{ aggregateHistory({args}) {{ totalCount }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), Some(code), "{args}: {body}");
    }
}

#[tokio::test]
async fn a_long_history_pages_across_the_chunks_it_is_read_in() {
    use domain::kit::money::Credits;
    use domain::kit::values::Reason;
    use domain::tenancy::account::{Account, AccountCommand};
    use projections::CommandContext;
    let app = TestApp::spawn().await;
    let id = open_account(&app, "long").await;
    let bus = app.db.bus();
    for n in 1..=600 {
        let command = AccountCommand::AdjustCredits {
            amount: Credits::signed(1).unwrap(),
            reason: Reason::parse(&format!("step {n}")).unwrap(),
        };
        let context = CommandContext::new(domain::Actor::new(domain::ActorKind::Operator, "op"));
        bus.execute::<Account>(&id, command, &context)
            .await
            .unwrap();
    }
    let mut after: Option<String> = None;
    let mut expected = 1i64;
    loop {
        let args = match &after {
            Some(cursor) => format!("first: 100, after: \"{cursor}\""),
            None => "first: 100".to_string(),
        };
        let page = history(&app, &id, &args).await;
        assert_eq!(page["totalCount"], 601, "after {after:?}");
        for version in page["nodes"].as_array().unwrap() {
            assert_eq!(version["version"], expected, "after {after:?}");
            if expected > 1 {
                assert_eq!(
                    version["changes"],
                    json!([{ "path": "balance", "kind": "CHANGED", "old": expected - 2, "new": expected - 1 }])
                );
                assert_eq!(version["reason"], format!("step {}", expected - 1));
            }
            expected += 1;
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(expected, 602);
}

#[tokio::test]
async fn history_snapshots_shorten_time_travel_and_never_change_its_answers() {
    use base64::Engine as _;
    use domain::kit::money::Credits;
    use domain::kit::values::Reason;
    use domain::tenancy::account::{Account, AccountCommand};
    use projections::audit::history_snapshots::{HistorySnapshots, EVERY, NAME};
    use projections::CommandContext;
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let id = open_account(&app, "kept").await;
    let bus = app.db.bus();
    let context = CommandContext::new(domain::Actor::new(domain::ActorKind::Operator, "op"));
    for n in 1..=(2 * EVERY + 50) {
        let command = AccountCommand::AdjustCredits {
            amount: Credits::signed(1).unwrap(),
            reason: Reason::parse(&format!("step {n}")).unwrap(),
        };
        bus.execute::<Account>(&id, command, &context)
            .await
            .unwrap();
    }
    let kept = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT sequence FROM history_snapshots WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(&id)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    assert!(
        crate::helpers::eventually(std::time::Duration::from_secs(20), || async {
            kept().await == [EVERY, 2 * EVERY]
        })
        .await,
        "kept: {:?}",
        kept().await
    );
    let moments = [
        json!({ "version": 1 }),
        json!({ "version": EVERY - 1 }),
        json!({ "version": EVERY }),
        json!({ "version": EVERY + 1 }),
        json!({ "version": 2 * EVERY + 7 }),
        json!({ "occurredAt": Utc::now() }),
        json!({ "recordedAt": Utc::now() }),
    ];
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1500");
    let answers = || async {
        let mut answers = Vec::new();
        for at in &moments {
            let body = as_of(&app, &id, at.clone()).await;
            assert!(body["errors"].is_null(), "{body}");
            answers.push(body["data"]["aggregateAsOf"].clone());
        }
        let page = history(&app, &id, &format!("first: 3, after: \"{cursor}\"")).await;
        answers.push(page["nodes"].clone());
        answers
    };
    let with_snapshots = answers().await;
    assert_eq!(with_snapshots[3]["version"], EVERY + 1);
    let deep_page = with_snapshots.last().unwrap();
    assert_eq!(deep_page[0]["version"], 1501);
    assert_eq!(
        deep_page[0]["changes"],
        json!([{ "path": "balance", "kind": "CHANGED", "old": 1499, "new": 1500 }])
    );

    // The snapshot is what time travel starts from: a (test-only) wrong one shows through...
    sqlx::query(
        "UPDATE history_snapshots SET state = jsonb_set(state, '{name}', to_jsonb('Not from the log'::text)) \
         WHERE aggregate_id = $1 AND sequence = $2",
    )
    .bind(&id)
    .bind(EVERY)
    .execute(pool)
    .await
    .unwrap();
    let body = as_of(&app, &id, json!({ "version": EVERY + 1 })).await;
    assert_eq!(
        body["data"]["aggregateAsOf"]["state"]["name"], "Not from the log",
        "{body}"
    );

    // ...and folding everything from the start, with no snapshot at all, answers the same as
    // the snapshots it was rebuilt into.
    sqlx::query("TRUNCATE history_snapshots")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM aggregate_snapshots WHERE aggregate_id = $1")
        .bind(&id)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(answers().await, with_snapshots);
    let engine = crate::helpers::engine_with(
        pool,
        vec![std::sync::Arc::new(HistorySnapshots {
            chronicles: projections::all_chronicles(),
        })],
    )
    .await;
    engine.rebuild(NAME).await.unwrap();
    assert_eq!(kept().await, [EVERY, 2 * EVERY]);
    assert_eq!(answers().await, with_snapshots);

    // Each keeps the latest business time folded into it, for time travel by business time.
    let (through, latest): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT s.occurred_through, (SELECT max((e.metadata ->> 'occurred_at')::timestamptz) \
            FROM events e WHERE e.aggregate_id = s.aggregate_id AND e.sequence <= s.sequence) \
         FROM history_snapshots s WHERE s.aggregate_id = $1 AND s.sequence = $2",
    )
    .bind(&id)
    .bind(2 * EVERY)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(through, latest);
}
