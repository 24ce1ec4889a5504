//! Databases migrated by earlier builds keep migrating: in particular one migrated while
//! `0002_operators.sql` held the text it was edited to after it landed.

use crate::helpers::TestDb;
use projections::store::db;

/// The text `0002_operators.sql` had from commit 2697028 until it was restored.
const EDITED_0002: &str = include_str!("../../fixtures/0002_operators.edited.sql");

/// A database migrated with 0001 and `second` as 0002, as an earlier build left it.
async fn migrated_by_an_earlier_build(second: &str) -> TestDb {
    let db = TestDb::empty().await;
    let folder = std::env::temp_dir().join(format!("igny8-migrations-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("0001_event_store.sql"),
        include_str!("../../../migrations/0001_event_store.sql"),
    )
    .unwrap();
    std::fs::write(folder.join("0002_operators.sql"), second).unwrap();
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

#[tokio::test]
async fn a_database_migrated_with_the_edited_0002_still_migrates() {
    let db = migrated_by_an_earlier_build(EDITED_0002).await;
    db::migrate(&db.pool).await.expect("migrates");
    let has_service: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_schema = 'read' AND table_name = 'operators' AND column_name = 'service')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(has_service);
}

#[tokio::test]
async fn a_database_migrated_with_0002_as_it_first_landed_still_migrates() {
    let db =
        migrated_by_an_earlier_build(include_str!("../../../migrations/0002_operators.sql")).await;
    db::migrate(&db.pool).await.expect("migrates");
    let has_service: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_schema = 'read' AND table_name = 'operators' AND column_name = 'service')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(has_service);
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
    use domain::billing::payment::{PaymentMethod, PaymentStatus};
    use domain::billing::plan::PlanTier;
    use domain::tenancy::account::{AccountState, LedgerKind};
    use domain::ActorKind;
    use strum::VariantNames;
    let db = TestDb::new().await;
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    let expected: [(&str, std::collections::BTreeSet<String>); 7] = [
        ("accounts_status_check", set(AccountState::VARIANTS)),
        ("accounts_plan_check", set(PlanTier::VARIANTS)),
        ("payments_status_check", set(PaymentStatus::VARIANTS)),
        ("payments_method_check", set(PaymentMethod::VARIANTS)),
        ("credit_ledger_kind_check", set(LedgerKind::VARIANTS)),
        ("credit_ledger_actor_kind_check", set(ActorKind::VARIANTS)),
        ("audit_log_actor_kind_check", set(ActorKind::VARIANTS)),
    ];
    for (constraint, values) in expected {
        assert_eq!(allowed(&db, constraint).await, values, "{constraint}");
    }
}
