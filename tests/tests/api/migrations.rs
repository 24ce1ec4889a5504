//! Databases migrated by earlier builds keep migrating: in particular those migrated while
//! 0002, 0005 and 0007 held the texts they first landed with (they later landed edited, and
//! the files hold the edited texts).

use crate::helpers::TestDb;
use projections::store::db;

/// The texts 0002, 0005 and 0007 first landed with (commit 51887b4).
const FIRST_TEXTS: [(&str, &str); 3] = [
    (
        "0002_operators.sql",
        include_str!("../../fixtures/landed-first/0002_operators.sql"),
    ),
    (
        "0005_identity_operators_service.sql",
        include_str!("../../fixtures/landed-first/0005_identity_operators_service.sql"),
    ),
    (
        "0007_tenancy_ledger_posting_order.sql",
        include_str!("../../fixtures/landed-first/0007_tenancy_ledger_posting_order.sql"),
    ),
];

/// A database migrated, as an earlier build left it, with the migrations up to `through`,
/// the first texts standing in for the files of the same names.
async fn migrated_by_an_earlier_build(through: i64) -> TestDb {
    let db = TestDb::empty().await;
    let folder = std::env::temp_dir().join(format!("igny8-migrations-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for entry in std::fs::read_dir(&migrations).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let version: i64 = name[..4].parse().unwrap();
        if version > through {
            continue;
        }
        let text = match FIRST_TEXTS.iter().find(|(file, _)| *file == name) {
            Some((_, first)) => first.to_string(),
            None => std::fs::read_to_string(entry.path()).unwrap(),
        };
        std::fs::write(folder.join(&name), text).unwrap();
    }
    let earlier = sqlx::migrate::Migrator::new(folder.as_path())
        .await
        .unwrap();
    earlier
        .run(&db.pool)
        .await
        .expect("the earlier build migrates");
    std::fs::remove_dir_all(&folder).ok();
    db
}

/// The `read` schema's columns and indexes, to compare databases by.
async fn schema(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns \
         WHERE table_schema = 'read' \
         UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'read' \
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_database_migrated_with_0002_as_it_first_landed_still_migrates() {
    let db = migrated_by_an_earlier_build(2).await;
    db::migrate(&db.pool).await.expect("migrates");
    assert_eq!(schema(&db).await, schema(&TestDb::new().await).await);
}

#[tokio::test]
async fn a_database_migrated_with_the_first_texts_of_0002_0005_and_0007_still_migrates() {
    // Before 0011 (the ledger still has the index the first 0007 made) and after it.
    for through in [7, 11] {
        let db = migrated_by_an_earlier_build(through).await;
        db::migrate(&db.pool).await.expect("migrates");
        let fresh = TestDb::new().await;
        assert_eq!(schema(&db).await, schema(&fresh).await, "through {through}");
        assert!(!schema(&db)
            .await
            .contains(&"index credit_ledger_kind_posted".to_string()));
    }
}

/// The values a CHECK constraint allows, read from the database.
async fn allowed(db: &TestDb, constraint: &str) -> std::collections::BTreeSet<String> {
    let definition: String = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1",
    )
    .bind(constraint)
    .fetch_one(&db.pool)
    .await
    .unwrap_or_else(|_| panic!("constraint {constraint}"));
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn read_model_check_constraints_allow_exactly_the_domain_vocabularies() {
    use domain::billing::invoice::{DunningStage, InvoiceStatus, LineKind};
    use domain::billing::payment::{PaymentMethod, PaymentStatus};
    use domain::billing::plan::PlanTier;
    use domain::billing::subscription::SubscriptionStatus;
    use domain::tenancy::account::{AccountState, LedgerKind};
    use domain::ActorKind;
    use strum::VariantNames;
    let db = TestDb::new().await;
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    use domain::ai_config::provider::Provider;
    use domain::ai_config::template::{TemplateCategory, TemplateKind};
    use domain::operations::activity::ActivityKind;
    let activity_kinds = |leave_out: &[ActivityKind]| {
        ActivityKind::VARIANTS
            .iter()
            .filter(|k| !leave_out.iter().any(|l| l.as_str() == **k))
            .map(|k| k.to_string())
            .collect()
    };
    use domain::insight::alert_rule::{AlertCondition, AlertSeverity};
    use domain::insight::metric::Metric;
    use domain::insight::mrr::MrrMovement;
    let expected: [(&str, std::collections::BTreeSet<String>); 25] = [
        ("accounts_status_check", set(AccountState::VARIANTS)),
        ("accounts_plan_check", set(PlanTier::VARIANTS)),
        ("payments_status_check", set(PaymentStatus::VARIANTS)),
        ("payments_method_check", set(PaymentMethod::VARIANTS)),
        ("credit_ledger_kind_check", set(LedgerKind::VARIANTS)),
        ("credit_ledger_actor_kind_check", set(ActorKind::VARIANTS)),
        ("audit_log_actor_kind_check", set(ActorKind::VARIANTS)),
        ("invoices_status_check", set(InvoiceStatus::VARIANTS)),
        ("invoice_lines_kind_check", set(LineKind::VARIANTS)),
        (
            "subscriptions_status_check",
            set(SubscriptionStatus::VARIANTS),
        ),
        ("invoices_dunning_stage_check", set(DunningStage::VARIANTS)),
        ("revenue_facts_method_check", set(PaymentMethod::VARIANTS)),
        ("ai_providers_provider_check", set(Provider::VARIANTS)),
        ("ai_overrides_provider_check", set(Provider::VARIANTS)),
        ("templates_kind_check", set(TemplateKind::VARIANTS)),
        ("templates_category_check", set(TemplateCategory::VARIANTS)),
        (
            "activity_daily_kind_check",
            activity_kinds(&[ActivityKind::UserActivity]),
        ),
        ("ai_usage_daily_provider_check", set(Provider::VARIANTS)),
        ("daily_metrics_metric_check", set(Metric::VARIANTS)),
        ("alert_rules_kind_check", set(AlertCondition::KINDS)),
        ("alert_rules_severity_check", set(AlertSeverity::VARIANTS)),
        ("alerts_severity_check", set(AlertSeverity::VARIANTS)),
        ("alerts_status_check", set(&["open", "resolved"])),
        ("mrr_movements_kind_check", set(MrrMovement::VARIANTS)),
        (
            "activity_items_kind_check",
            activity_kinds(&[
                ActivityKind::Sync,
                ActivityKind::Publish,
                ActivityKind::AiCall,
                ActivityKind::UserActivity,
            ]),
        ),
    ];
    for (constraint, values) in expected {
        assert_eq!(allowed(&db, constraint).await, values, "{constraint}");
    }
}

/// Every filter of the audit trail's list has an index that gives the list's order (time,
/// then position), so a page is read from an index whatever the trail's size: without one,
/// PostgreSQL walks the time index backwards and filters (2.5 s at 10M rows for an aggregate
/// with no entries, see docs/benchmarks). Checked on the plan, with the cheap alternatives
/// (a scan and a sort) forbidden, so only a missing index can fail it.
#[tokio::test]
async fn each_audit_filter_reads_its_page_from_an_index_in_the_lists_order() {
    let db = TestDb::new().await;
    let mut conn = db.pool.acquire().await.unwrap();
    for setting in ["SET enable_seqscan = off", "SET enable_sort = off"] {
        sqlx::query(setting).execute(&mut *conn).await.unwrap();
    }
    let filters = [
        ("actor_id = 'op-1'", "audit_log_actor"),
        ("action = 'PaymentApproved'", "audit_log_action"),
        (
            "aggregate_type = 'payment' AND aggregate_id = 'p-1'",
            "audit_log_aggregate",
        ),
        (
            "account_id = '00000000-0000-0000-0000-000000000001'",
            "audit_log_account",
        ),
    ];
    for (filter, index) in filters {
        let plan: serde_json::Value = sqlx::query_scalar(&format!(
            "EXPLAIN (FORMAT JSON) SELECT position FROM read.audit_log WHERE {filter} \
             ORDER BY occurred_at DESC, position DESC LIMIT 21"
        ))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        let plan = plan.to_string();
        assert!(plan.contains(index), "{filter}: expected {index} in {plan}");
        assert!(
            !plan.contains("\"Sort\""),
            "{filter}: the page is sorted: {plan}"
        );
    }
}

/// Analysts' tools connect as members of `igny8_analyst`: every read model is theirs to read,
/// and nothing else is: not the log, the snapshots, the keyring, the token hashes, nor a write.
#[tokio::test]
async fn the_analyst_role_reads_every_read_model_and_nothing_else() {
    let db = TestDb::new().await;
    let login = format!("analyst_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE ROLE {login} LOGIN IN ROLE igny8_analyst"))
        .execute(&db.pool)
        .await
        .unwrap();
    let url = db.url.replacen("postgres@", &format!("{login}@"), 1);
    let analyst = sqlx::PgPool::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'read' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(tables.len() > 30, "{tables:?}");
    let hashes = ["operator_tokens", "platform_user_tokens"];
    for table in &tables {
        let columns = if hashes.contains(&table.as_str()) {
            "token_id, label, created_at, revoked_at"
        } else {
            "*"
        };
        let read = sqlx::query(&format!("SELECT {columns} FROM read.{table} LIMIT 1"))
            .fetch_all(&analyst)
            .await;
        assert!(read.is_ok(), "read.{table}: {read:?}");
    }
    for denied in [
        "SELECT payload FROM events LIMIT 1",
        "SELECT * FROM aggregate_snapshots LIMIT 1",
        "SELECT * FROM secrets.data_keys LIMIT 1",
        "SELECT token_hash FROM read.operator_tokens LIMIT 1",
        "SELECT token_hash FROM read.platform_user_tokens LIMIT 1",
        "DELETE FROM read.accounts",
        "INSERT INTO read.daily_metrics (metric, day, value) VALUES ('logins', '2026-01-01', 1)",
    ] {
        let refused = sqlx::query(denied).execute(&analyst).await;
        let error = refused.expect_err(denied);
        assert!(
            error.to_string().contains("permission denied"),
            "{denied}: {error}"
        );
    }
    analyst.close().await;
    sqlx::query(&format!("DROP ROLE {login}"))
        .execute(&db.pool)
        .await
        .unwrap();
}
