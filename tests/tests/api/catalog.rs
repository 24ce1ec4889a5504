//! The catalogue: four plans from the first start, versions that never change, and who may
//! revise, (de)activate and clone plans; credit packages; credit costs and the consumptions
//! they price.

use crate::access_matrix::{platform_user_token, staff_in_group};
use crate::accounts::{event_count, open_account};
use crate::helpers::{error_code, TestApp};
use serde_json::{json, Value};

const PLAN: &str = "id code name active currentVersion clonedFromPlanId clonedFromVersion \
    terms { version name priceMinor currency includedCredits overridesAllowed createdBy \
            limits { sites users keywords monthlyWords monthlyImages } }";

async fn plans(app: &TestApp, filter: &str) -> Vec<Value> {
    let body = app
        .graphql(&format!("{{ plans{filter} {{ {PLAN} }} }}"), json!({}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["plans"].as_array().unwrap().clone()
}

async fn plan(app: &TestApp, code: &str) -> Value {
    let body = app
        .graphql(
            &format!("query($code: String) {{ plan(code: $code) {{ {PLAN} versions {{ version priceMinor name }} }} }}"),
            json!({ "code": code }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["plan"].clone()
}

/// Runs a plan mutation as `token`; the whole body.
async fn call_as(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "revisePlan" => "RevisePlanInput",
        "clonePlan" => "ClonePlanInput",
        _ => "PlanInput",
    };
    app.graphql_as(
        Some(token),
        &format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ plan {{ {PLAN} }} position caughtUp replayed }} }}"
        ),
        json!({ "input": input }),
    )
    .await
    .1
}

async fn must(app: &TestApp, mutation: &str, input: Value) -> Value {
    let body = call_as(app, &app.token, mutation, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation].clone()
}

/// Expects a refusal with `code` that appends nothing.
async fn refused(app: &TestApp, token: &str, mutation: &str, input: Value, code: &str) {
    let before = event_count(app).await;
    let body = call_as(app, token, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert!(
        !body["errors"][0]["message"].as_str().unwrap().is_empty(),
        "{body}"
    );
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
}

#[tokio::test]
async fn the_four_plans_exist_from_the_first_start_and_revisions_are_new_versions() {
    let app = TestApp::spawn().await;
    let all = plans(&app, "").await;
    let summary: Vec<(String, i64, i64, bool, i64)> = all
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_string(),
                p["terms"]["priceMinor"].as_i64().unwrap(),
                p["terms"]["includedCredits"].as_i64().unwrap(),
                p["terms"]["overridesAllowed"].as_bool().unwrap(),
                p["currentVersion"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("free".to_string(), 0, 100, false, 1),
            ("starter".to_string(), 2_900, 1_000, true, 1),
            ("growth".to_string(), 7_900, 5_000, true, 1),
            ("scale".to_string(), 19_900, 20_000, true, 1),
        ]
    );
    assert!(all.iter().all(|p| p["active"] == true
        && p["terms"]["currency"] == "USD"
        && p["terms"]["createdBy"] == "bootstrap"));
    assert_eq!(
        all[2]["terms"]["limits"],
        json!({ "sites": 10, "users": 10, "keywords": 10000, "monthlyWords": 500000, "monthlyImages": 500 })
    );

    // A second start appends nothing.
    let before = event_count(&app).await;
    api::startup::open(&app.db.settings()).await.unwrap();
    assert_eq!(event_count(&app).await, before, "the plans exist once");

    // A revision is the next version; the first stays as it was sold.
    let growth = plan(&app, "growth").await;
    let id = growth["id"].clone();
    let revised = must(
        &app,
        "revisePlan",
        json!({ "planId": id, "changes": { "priceMinor": 8_900, "monthlyImages": 800 }, "reason": "2027 prices" }),
    )
    .await;
    assert_eq!(revised["plan"]["currentVersion"], 2);
    assert_eq!(revised["plan"]["terms"]["priceMinor"], 8_900);
    assert_eq!(revised["plan"]["terms"]["limits"]["monthlyImages"], 800);
    assert_eq!(
        revised["plan"]["terms"]["limits"]["sites"], 10,
        "unchanged terms carry over"
    );
    let growth = plan(&app, "growth").await;
    assert_eq!(
        growth["versions"],
        json!([
            { "version": 2, "priceMinor": 8_900, "name": "Growth" },
            { "version": 1, "priceMinor": 7_900, "name": "Growth" },
        ])
    );
    assert_eq!(growth["terms"]["createdBy"], app_operator_id(&app).await);

    // Changing nothing records nothing.
    let same = must(
        &app,
        "revisePlan",
        json!({ "planId": id, "changes": { "priceMinor": 8_900 }, "reason": "again" }),
    )
    .await;
    assert_eq!(same["position"], Value::Null);
    assert_eq!(same["plan"]["currentVersion"], 2);

    // Deactivated plans leave the active list; both moves are safe to repeat.
    let input = json!({ "planId": id, "reason": "replaced by Growth 2027" });
    let off = must(&app, "deactivatePlan", input.clone()).await;
    assert_eq!(off["plan"]["active"], false);
    assert_eq!(
        must(&app, "deactivatePlan", input.clone()).await["position"],
        Value::Null
    );
    let active: Vec<Value> = plans(&app, "(active: true)")
        .await
        .iter()
        .map(|p| p["code"].clone())
        .collect();
    assert_eq!(active, [json!("free"), json!("starter"), json!("scale")]);
    assert_eq!(plans(&app, "(active: false)").await.len(), 1);
    assert_eq!(
        must(&app, "activatePlan", input.clone()).await["plan"]["active"],
        true
    );
    assert_eq!(
        must(&app, "activatePlan", input).await["position"],
        Value::Null
    );

    // Its history is the log's.
    let body = app
        .graphql(
            "query($code: String) { plan(code: $code) { history { edges { node { events { eventType } } } } } }",
            json!({ "code": "growth" }),
        )
        .await;
    let types: Vec<&str> = body["data"]["plan"]["history"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["events"][0]["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "PlanCreated",
            "PlanRevised",
            "PlanDeactivated",
            "PlanActivated"
        ]
    );
}

async fn app_operator_id(app: &TestApp) -> Value {
    app.graphql("{ me { id } }", json!({})).await["data"]["me"]["id"].clone()
}

#[tokio::test]
async fn bad_plan_changes_are_refused_whole() {
    let app = TestApp::spawn().await;
    let growth = plan(&app, "growth").await["id"].clone();
    let free = plan(&app, "free").await["id"].clone();
    let root = app.token.clone();
    let revise = |plan: &Value, changes: Value| json!({ "planId": plan, "changes": changes, "reason": "try" });
    for (input, code) in [
        (revise(&growth, json!({ "priceMinor": -1 })), "VALIDATION"),
        (
            revise(&growth, json!({ "priceMinor": 10_000_000_000i64 })),
            "VALIDATION",
        ),
        (
            revise(&growth, json!({ "includedCredits": -5 })),
            "VALIDATION",
        ),
        (revise(&growth, json!({ "users": 0 })), "VALIDATION"),
        (revise(&growth, json!({ "sites": -1 })), "VALIDATION"),
        (revise(&growth, json!({ "currency": "usd" })), "VALIDATION"),
        (revise(&growth, json!({ "name": "  " })), "VALIDATION"),
        (revise(&growth, json!({ "priceMinor": 0 })), "VALIDATION"),
        (
            revise(&free, json!({ "overridesAllowed": true })),
            "VALIDATION",
        ),
        (
            json!({ "planId": growth, "changes": { "priceMinor": 1 }, "reason": " " }),
            "VALIDATION",
        ),
        (
            json!({ "planId": "not-an-id", "changes": {}, "reason": "x" }),
            "VALIDATION",
        ),
        (
            revise(
                &json!("00000000-0000-0000-0000-000000000001"),
                json!({ "priceMinor": 1 }),
            ),
            "NOT_FOUND",
        ),
    ] {
        refused(&app, &root, "revisePlan", input, code).await;
    }
    refused(
        &app,
        &root,
        "deactivatePlan",
        json!({ "planId": free, "reason": "no more free" }),
        "CONFLICT",
    )
    .await;
    assert_eq!(plan(&app, "growth").await["currentVersion"], 1);
}

#[tokio::test]
async fn billing_staff_revise_plans_and_only_superusers_clone_them() {
    let app = TestApp::spawn().await;
    let growth = plan(&app, "growth").await["id"].clone();
    let billing = staff_in_group(&app, "billing@example.com", "Billing Administrator").await;
    let support = staff_in_group(&app, "support@example.com", "Support Agent").await;
    let revise =
        json!({ "planId": growth, "changes": { "priceMinor": 8_900 }, "reason": "2027 prices" });
    refused(&app, &support, "revisePlan", revise.clone(), "FORBIDDEN").await;
    let body = call_as(&app, &billing, "revisePlan", revise).await;
    assert!(body["errors"].is_null(), "{body}");

    // A clone starts from the version asked for, with its changes, and remembers its source.
    let clone = json!({
        "planId": growth, "version": 1, "code": "growth-nonprofit",
        "changes": { "name": "Growth (non-profit)", "priceMinor": 3_900 },
        "reason": "charity programme",
    });
    refused(&app, &billing, "clonePlan", clone.clone(), "FORBIDDEN").await;
    let cloned = must(&app, "clonePlan", clone.clone()).await;
    let plan_after = &cloned["plan"];
    assert_eq!(plan_after["code"], "growth-nonprofit");
    assert_eq!(plan_after["currentVersion"], 1);
    assert_eq!(plan_after["clonedFromPlanId"], growth);
    assert_eq!(plan_after["clonedFromVersion"], 1);
    assert_eq!(plan_after["terms"]["name"], "Growth (non-profit)");
    assert_eq!(plan_after["terms"]["priceMinor"], 3_900);
    assert_eq!(
        plan_after["terms"]["includedCredits"], 5_000,
        "the rest is version 1's"
    );
    assert_eq!(plans(&app, "").await.len(), 5);

    refused(&app, &app.token, "clonePlan", clone.clone(), "CONFLICT").await;
    let mut bad = clone.clone();
    bad["code"] = json!("Growth NP");
    refused(&app, &app.token, "clonePlan", bad, "VALIDATION").await;
    let mut bad = clone.clone();
    bad["code"] = json!("growth-v9");
    bad["version"] = json!(9);
    refused(&app, &app.token, "clonePlan", bad, "NOT_FOUND").await;
    let mut bad = clone;
    bad["code"] = json!("growth-free");
    bad["changes"] = json!({ "priceMinor": 0 });
    refused(&app, &app.token, "clonePlan", bad, "VALIDATION").await;

    // Tenants see the catalogue, but not which staff member wrote it.
    let account = open_account(&app, "shopper").await;
    let owner = platform_user_token(&app, &account, "owner").await;
    let (_, body) = app
        .graphql_as(
            Some(&owner),
            "{ plans { code terms { priceMinor } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["plans"].as_array().unwrap().len(), 5);
    let (_, body) = app
        .graphql_as(Some(&owner), "{ plans { terms { createdBy } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    refused(
        &app,
        &owner,
        "deactivatePlan",
        json!({ "planId": growth, "reason": "mine" }),
        "FORBIDDEN",
    )
    .await;
}

const PACKAGE: &str = "package { id name credits priceMinor currency currentVersion active \
    versions { version credits priceMinor } } position replayed caughtUp";

async fn package_call(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "createCreditPackage" => "CreateCreditPackageInput",
        "reviseCreditPackage" => "ReviseCreditPackageInput",
        _ => "CreditPackageInput",
    };
    app.graphql_as(
        Some(token),
        &format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {PACKAGE} }} }}"),
        json!({ "input": input }),
    )
    .await
    .1
}

async fn package_must(app: &TestApp, mutation: &str, input: Value) -> Value {
    let body = package_call(app, &app.token, mutation, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    body["data"][mutation].clone()
}

async fn package_refused(app: &TestApp, token: &str, mutation: &str, input: Value, code: &str) {
    let before = event_count(app).await;
    let body = package_call(app, token, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
}

#[tokio::test]
async fn credit_packages_are_created_once_versioned_and_deactivated() {
    let app = TestApp::spawn().await;
    let create = json!({
        "name": "5,000 credits", "credits": 5_000, "priceMinor": 4_500, "currency": "USD",
        "reason": "spring offer", "idempotencyKey": "pkg-5000",
    });
    let created = package_must(&app, "createCreditPackage", create.clone()).await;
    let package = created["package"].clone();
    assert_eq!(
        (
            package["credits"].clone(),
            package["priceMinor"].clone(),
            package["active"].clone()
        ),
        (json!(5_000), json!(4_500), json!(true))
    );
    let again = package_must(&app, "createCreditPackage", create).await;
    assert_eq!(again["replayed"], true);
    assert_eq!(
        again["package"]["id"], package["id"],
        "the key names the package"
    );

    let id = package["id"].clone();
    let revised = package_must(
        &app,
        "reviseCreditPackage",
        json!({ "packageId": id, "priceMinor": 3_900, "reason": "summer price" }),
    )
    .await;
    assert_eq!(revised["package"]["currentVersion"], 2);
    assert_eq!(
        revised["package"]["versions"],
        json!([
            { "version": 2, "credits": 5_000, "priceMinor": 3_900 },
            { "version": 1, "credits": 5_000, "priceMinor": 4_500 },
        ])
    );
    let same = package_must(
        &app,
        "reviseCreditPackage",
        json!({ "packageId": id, "credits": 5_000, "reason": "no change" }),
    )
    .await;
    assert_eq!(same["position"], Value::Null);

    let input = json!({ "packageId": id, "reason": "end of summer" });
    assert_eq!(
        package_must(&app, "deactivateCreditPackage", input.clone()).await["package"]["active"],
        false
    );
    assert_eq!(
        package_must(&app, "deactivateCreditPackage", input).await["position"],
        Value::Null
    );
    let active = app
        .graphql("{ creditPackages(active: true) { id } }", json!({}))
        .await;
    assert_eq!(active["data"]["creditPackages"], json!([]), "{active}");

    let root = app.token.clone();
    let bad = |field: &str, value: Value| {
        let mut input = json!({
            "name": "bad", "credits": 10, "priceMinor": 100, "currency": "USD", "reason": "try",
        });
        input[field] = value;
        input
    };
    for input in [
        bad("credits", json!(0)),
        bad("credits", json!(-10)),
        bad("priceMinor", json!(0)),
        bad("priceMinor", json!(-1)),
        bad("currency", json!("usd")),
        bad("name", json!("")),
        bad("reason", json!("")),
    ] {
        package_refused(&app, &root, "createCreditPackage", input, "VALIDATION").await;
    }
    package_refused(
        &app,
        &root,
        "reviseCreditPackage",
        json!({ "packageId": "00000000-0000-0000-0000-000000000009", "credits": 1, "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
    let support = staff_in_group(&app, "support@example.com", "Support Agent").await;
    package_refused(
        &app,
        &support,
        "createCreditPackage",
        bad("name", json!("mine")),
        "FORBIDDEN",
    )
    .await;
}

const COSTS: &str = "operation version creditsPerUnit effectiveFrom withdrawn inForce";

async fn costs(app: &TestApp, operation: &str) -> Vec<Value> {
    let body = app
        .graphql(
            &format!("query($op: String) {{ creditCosts(operation: $op) {{ {COSTS} }} }}"),
            json!({ "op": operation }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["creditCosts"].as_array().unwrap().clone()
}

async fn cost_call(app: &TestApp, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "setCreditCost" => "SetCreditCostInput",
        _ => "WithdrawCreditCostInput",
    };
    app.graphql(
        &format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ costs {{ {COSTS} }} position }} }}"),
        json!({ "input": input }),
    )
    .await
}

#[tokio::test]
async fn credit_costs_are_versioned_by_time_and_never_overlap() {
    let app = TestApp::spawn().await;
    let all = app
        .graphql(&format!("{{ creditCosts {{ {COSTS} }} }}"), json!({}))
        .await;
    let all = all["data"]["creditCosts"].as_array().unwrap().clone();
    assert_eq!(all.len(), 7, "the built-in operation types");
    assert!(all.iter().all(|c| c["version"] == 1
        && c["inForce"] == true
        && c["effectiveFrom"] == "2000-01-01T00:00:00+00:00"));
    let generation = costs(&app, "content_generation").await;
    assert_eq!(generation[0]["creditsPerUnit"], 12);

    // A new price takes effect a minute from now at the earliest; the old one stays in force.
    let body = cost_call(
        &app,
        "setCreditCost",
        json!({ "operation": "content_generation", "creditsPerUnit": 15, "reason": "new model costs more" }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let after = body["data"]["setCreditCost"]["costs"].as_array().unwrap();
    assert_eq!(after[0]["version"], 2);
    assert_eq!(after[0]["inForce"], false);
    assert_eq!(after[1]["inForce"], true);
    let v2_from =
        chrono::DateTime::parse_from_rfc3339(after[0]["effectiveFrom"].as_str().unwrap()).unwrap();
    let lead = v2_from.signed_duration_since(chrono::Utc::now());
    assert!(lead > chrono::Duration::seconds(50), "{lead}");

    let before = event_count(&app).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
    for (input, code) in [
        // Before version 2: the two would overlap.
        (
            json!({ "operation": "content_generation", "creditsPerUnit": 14, "effectiveFrom": soon, "reason": "x" }),
            "CONFLICT",
        ),
        (
            json!({ "operation": "content_generation", "creditsPerUnit": 0, "reason": "x" }),
            "VALIDATION",
        ),
        (
            json!({ "operation": "", "creditsPerUnit": 3, "reason": "x" }),
            "VALIDATION",
        ),
        (
            json!({ "operation": "content_generation", "creditsPerUnit": 3, "effectiveFrom": "1999-01-01T00:00:00Z", "reason": "x" }),
            "VALIDATION",
        ),
    ] {
        let body = cost_call(&app, "setCreditCost", input.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{input}: {body}");
    }
    for (version, code) in [(1, "CONFLICT"), (9, "NOT_FOUND")] {
        let body = cost_call(
            &app,
            "withdrawCreditCost",
            json!({ "operation": "content_generation", "version": version, "reason": "x" }),
        )
        .await;
        assert_eq!(error_code(&body), Some(code), "{body}");
    }
    assert_eq!(event_count(&app).await, before, "refusals append nothing");

    // Withdrawn before it took effect, version 2 no longer blocks; the lead still holds.
    let body = cost_call(
        &app,
        "withdrawCreditCost",
        json!({ "operation": "content_generation", "version": 2, "reason": "typo" }),
    )
    .await;
    assert_eq!(
        body["data"]["withdrawCreditCost"]["costs"][0]["withdrawn"], true,
        "{body}"
    );
    let body = cost_call(
        &app,
        "setCreditCost",
        json!({ "operation": "content_generation", "creditsPerUnit": 14, "effectiveFrom": soon, "reason": "x" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

#[tokio::test]
async fn a_consumption_without_credits_is_priced_by_the_version_in_force_when_it_happened() {
    use chrono::TimeZone;
    use domain::billing::credit_cost::{CreditCost, CreditCostCommand};
    use domain::kit::money::Credits;
    use domain::kit::values::OperationType;
    let app = TestApp::spawn().await;
    let account = open_account(&app, "metered").await;
    crate::accounts::adjust(&app, &account, 1_000, "opening balance").await;
    let platform = crate::helpers::create_service(&app.db.settings(), "platform@igny8.com").await;

    // Two prices of a new operation type, set on 1 June 2026 (the test states the clock).
    let operation = OperationType::parse("site_audit").unwrap();
    let june = |day| {
        chrono::Utc
            .with_ymd_and_hms(2026, 6, day, 12, 0, 0)
            .unwrap()
    };
    let july = |day| {
        chrono::Utc
            .with_ymd_and_hms(2026, 7, day, 12, 0, 0)
            .unwrap()
    };
    let bus = app.db.bus();
    for (credits, from) in [(4, june(1)), (7, july(1))] {
        let command = CreditCostCommand::Schedule {
            operation: operation.clone(),
            credits_per_unit: Credits::new(credits),
            effective_from: Some(from),
            now: june(1),
        };
        let context = projections::CommandContext::new(domain::Actor::system("test"))
            .with_reason("prices for the test");
        bus.execute::<CreditCost>(
            &CreditCost::id_for(&operation).to_string(),
            command,
            &context,
        )
        .await
        .unwrap();
    }

    // Set through the bus, so nothing waited for the catalogue: wait for it here.
    let projected = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        costs(&app, "site_audit").await.len() == 2
    })
    .await;
    assert!(projected, "the catalogue shows both prices");

    let consume = |occurred_at: chrono::DateTime<chrono::Utc>, units: i64| {
        let platform = platform.clone();
        let app = &app;
        let account = account.clone();
        async move {
            let (_, body) = app
                .graphql_as(
                    Some(&platform),
                    "mutation($input: ConsumeCreditsInput!) { consumeCredits(input: $input) { account { balance } } }",
                    json!({ "input": { "accountId": account, "operation": "site_audit", "units": units,
                                       "occurredAt": occurred_at.to_rfc3339() } }),
                )
                .await;
            body
        }
    };
    let body = consume(june(15), 3).await;
    assert_eq!(
        body["data"]["consumeCredits"]["account"]["balance"],
        1_000 - 12,
        "{body}"
    );
    let body = consume(july(15), 3).await;
    assert_eq!(
        body["data"]["consumeCredits"]["account"]["balance"],
        1_000 - 12 - 21,
        "{body}"
    );
    // Before its first price, an operation cannot be priced: the platform must say.
    let body = consume(
        chrono::Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        1,
    )
    .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    let body = consume(june(15), i64::MAX / 2).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");

    let ledger = app
        .graphql(
            "query($id: ID!) { creditLedger(filter: { accountId: $id, kind: [CONSUMPTION] }, direction: ASC) { \
               nodes { amount units costVersion } } }",
            json!({ "id": account }),
        )
        .await;
    assert_eq!(
        ledger["data"]["creditLedger"]["nodes"],
        json!([
            { "amount": -12, "units": 3, "costVersion": 1 },
            { "amount": -21, "units": 3, "costVersion": 2 },
        ]),
        "{ledger}"
    );
}
