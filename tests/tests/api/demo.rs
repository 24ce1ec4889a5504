//! `seed-demo` builds its data through the command path, as people would; every actor it
//! writes as is one an auditor can look up.

use crate::helpers::TestDb;
use api::startup;

#[tokio::test]
async fn every_operator_or_service_actor_the_demo_writes_as_is_a_registered_operator() {
    let db = TestDb::new().await;
    let (bus, engine) = startup::open(&db.settings()).await.expect("open");
    api::demo::seed(&bus, &engine, 3).await.expect("seeded");
    engine
        .catch_up("operators")
        .await
        .expect("operators projected");
    let unknown: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT metadata ->> 'actor_kind', metadata ->> 'actor_id' FROM events e \
         WHERE metadata ->> 'actor_kind' IN ('operator', 'service') \
           AND NOT EXISTS (SELECT 1 FROM read.operators o WHERE o.id::text = e.metadata ->> 'actor_id')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(unknown.is_empty(), "actors no one can look up: {unknown:?}");
    let usage: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'CreditsConsumed' AND metadata ->> 'actor_kind' = 'service'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(usage > 0, "the demo reports usage as a service principal");
}

#[tokio::test]
async fn the_demo_has_a_staff_in_every_group_and_people_in_every_account() {
    let db = TestDb::new().await;
    let (bus, engine) = startup::open(&db.settings()).await.expect("open");
    api::demo::seed(&bus, &engine, 4).await.expect("seeded");
    for name in ["operators", "platform_users", "accounts"] {
        engine.catch_up(name).await.expect("projected");
    }
    let staff: Vec<(String, String)> = sqlx::query_as(
        "SELECT g.name, o.email FROM read.group_members m \
         JOIN read.permission_groups g ON g.id = m.group_id \
         JOIN read.operators o ON o.id = m.operator_id ORDER BY g.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let groups: Vec<&str> = staff.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(
        groups,
        [
            "Analyst",
            "Billing Administrator",
            "Content Manager",
            "Support Agent"
        ],
        "{staff:?}"
    );
    // Every account that was opened has exactly one owner, the address it was opened with;
    // some have more people, in every role.
    let owners: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT a.owner_email, u.email, (SELECT count(*) FROM read.platform_users x \
           WHERE x.account_id = a.id AND x.role = 'owner') \
         FROM read.accounts a JOIN read.platform_users u ON u.account_id = a.id AND u.role = 'owner' \
         WHERE a.slug <> 'aws-admin'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(!owners.is_empty());
    for (opened_with, owner, count) in &owners {
        assert_eq!((opened_with, count), (owner, &1));
    }
    let roles: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT role FROM read.platform_users ORDER BY role")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(roles, ["admin", "editor", "owner", "viewer"]);
}

#[tokio::test]
async fn the_demo_has_a_year_of_billing_with_renewals_payments_and_dunning() {
    let db = TestDb::new().await;
    let (bus, engine) = startup::open(&db.settings()).await.expect("open");
    let seeded = api::demo::seed(&bus, &engine, 25).await.expect("seeded");
    for name in engine.handler_names() {
        engine.catch_up(name).await.expect("projected");
    }
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let subscriptions = count("SELECT count(*) FROM read.subscriptions").await;
    assert_eq!(
        subscriptions as usize, seeded.accounts,
        "every account subscribes"
    );
    let renewals =
        count("SELECT count(*) FROM events WHERE event_type = 'SubscriptionRenewed'").await;
    assert!(renewals > 50, "months of renewals ({renewals})");
    let paid = count("SELECT count(*) FROM read.invoices WHERE status = 'paid' AND subject_kind = 'subscription'").await;
    assert!(paid > 30, "most subscription invoices are paid ({paid})");
    let dunned = count("SELECT count(*) FROM read.invoices WHERE dunning_stage IS NOT NULL").await;
    assert!(dunned > 0, "some invoices are chased");
    let included = count("SELECT count(*) FROM read.credit_ledger WHERE kind = 'included'").await;
    let expired = count("SELECT count(*) FROM read.credit_ledger WHERE kind = 'expiry'").await;
    assert!(
        included > renewals && expired > 0,
        "{included} grants, {expired} expiries"
    );
    let overrides = count("SELECT count(*) FROM read.ai_overrides").await;
    let on_free = count(
        "SELECT count(*) FROM read.ai_overrides o JOIN read.accounts a ON a.id = o.account_id \
         JOIN events e ON e.aggregate_type = 'account' AND e.aggregate_id = a.id::text \
          AND e.sequence = 1 WHERE e.payload -> 'AccountOpened' ->> 'plan' = 'free'",
    )
    .await;
    assert!(overrides > 0, "paying accounts override AI settings");
    let customized = count("SELECT count(*) FROM read.account_prompts").await;
    let reset =
        count("SELECT count(*) FROM events WHERE event_type = 'PromptResetToDefault'").await;
    assert!(
        customized > 0 && reset > 0,
        "{customized} customized prompts, {reset} reset"
    );
    assert_eq!(on_free, 0, "no account opened on Free overrides");
    let revenue =
        count("SELECT coalesce(sum(paid_minor), 0)::bigint FROM read.revenue_facts").await;
    assert!(revenue > 0, "revenue facts");
    let issues = count("SELECT count(*) FROM read.process_issues").await;
    let messages: Vec<String> =
        sqlx::query_scalar("SELECT handler || ': ' || message FROM read.process_issues")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        issues, 0,
        "nothing the process managers could not do: {messages:?}"
    );
    // A year of platform activity, so every chart has data.
    assert!(
        seeded.activity > 1_000,
        "{} activity records",
        seeded.activity
    );
    for metric in [
        "ai_calls",
        "ai_cost",
        "words_published",
        "automations_failed",
        "syncs_succeeded",
        "publishes_succeeded",
        "logins",
    ] {
        let days: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT day) FROM read.daily_metrics WHERE metric = $1",
        )
        .bind(metric)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(days > 20, "{metric} on {days} days");
    }
}
