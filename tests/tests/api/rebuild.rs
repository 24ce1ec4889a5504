use crate::helpers::TestDb;
use api::startup;

/// Every read-model table, in a stable order, as text: what "equal" means for a rebuild.
async fn read_models(db: &TestDb) -> Vec<(String, Vec<String>)> {
    let mut tables = Vec::new();
    for table in [
        "operators",
        "operator_tokens",
        "accounts",
        "credit_ledger",
        "payments",
        "audit_log",
        "process_issues",
        "permission_groups",
        "group_permissions",
        "group_members",
        "platform_users",
        "plans",
        "plan_versions",
        "credit_packages",
        "credit_package_versions",
        "credit_costs",
        "invoices",
        "invoice_lines",
        "subscriptions",
        "deadlines",
        "revenue_facts",
        "revenue_account_plans",
        "revenue_payments",
        "bulk_jobs",
        "bulk_job_items",
        "ai_providers",
        "ai_overrides",
        "prompts",
        "prompt_versions",
        "account_prompts",
        "templates",
        "activity_daily",
        "ai_usage_daily",
        "activity_items",
        "user_activity_days",
        "daily_metrics",
        "credit_usage_daily",
        "alert_rules",
        "alerts",
        "mrr_movements",
        "account_mrr",
    ] {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM read.{table} t ORDER BY 1"))
                .fetch_all(&db.pool)
                .await
                .unwrap();
        tables.push((table.to_string(), rows));
    }
    tables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_every_projection_yields_exactly_the_incrementally_built_tables() {
    let db = TestDb::new().await;
    let (bus, engine) = startup::open(&db.settings()).await.unwrap();
    let seeded = api::demo::seed(&bus, &engine, 25)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(seeded.accounts, 25);
    for name in engine.handler_names() {
        engine.catch_up(name).await.unwrap();
    }
    let incremental = read_models(&db).await;
    let ledger_rows = &incremental
        .iter()
        .find(|(t, _)| t == "credit_ledger")
        .unwrap()
        .1;
    assert!(
        ledger_rows.len() > 50,
        "the seed made a real ledger ({} rows)",
        ledger_rows.len()
    );
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    let indexes = || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'read' ORDER BY indexname",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    let indexes_before = indexes().await;

    // Side by side, as `rebuild --all` does.
    let reports = engine
        .rebuild_many(&engine.projection_names())
        .await
        .unwrap();
    assert_eq!(reports.len(), engine.projection_names().len());
    let refused = engine.rebuild("payment_approval").await.unwrap_err();
    assert!(refused.to_string().contains("process manager"), "{refused}");
    let rebuilt = read_models(&db).await;
    assert_eq!(
        indexes().await,
        indexes_before,
        "every index is back after the rebuild"
    );
    for ((table, before), (_, after)) in incremental.iter().zip(&rebuilt) {
        assert_eq!(before.len(), after.len(), "{table}: row count");
        assert_eq!(before, after, "{table}: rows");
    }
    let events_after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        events_before, events_after,
        "replaying the process manager issued nothing new"
    );
}
