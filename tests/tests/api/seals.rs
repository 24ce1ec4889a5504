//! Tamper evidence: the seal chain verifies on a clean log, and every way of editing the raw
//! table (with its append-only trigger switched off, as an intruder with the database's keys
//! would) is found, at the right position, with the right reason.

use crate::accounts::{adjust, open_account};
use crate::helpers::{eventually, test_seal_key, TestApp};
use projections::audit::seal::{seal, SealedEvent, GENESIS, SEALED_COLUMNS};
use projections::audit::seal_key::SealKey;
use projections::audit::verify::{verify, Report, VerifyOptions};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

/// A server that signs a checkpoint after every batch, with some history written.
async fn sealed_app() -> (TestApp, Vec<i64>) {
    let app = TestApp::spawn_with(|settings| settings.seal_checkpoint_every = 1).await;
    let mut accounts = Vec::new();
    for slug in ["north", "south", "east"] {
        accounts.push(open_account(&app, slug).await);
    }
    for (n, account) in accounts.iter().enumerate() {
        for amount in [10, 20, -5] {
            let body = adjust(&app, account, amount + n as i64, "sealed history").await;
            assert!(body["errors"].is_null(), "{body}");
        }
    }
    // Tampering must hit sealed events: wait for the sealer (a slow machine may answer a
    // mutation before its read-your-writes wait is over).
    let all_sealed = eventually(Duration::from_secs(30), || async {
        let (events, sealed): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_seals)",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        events == sealed
    })
    .await;
    assert!(all_sealed, "the sealer caught up");
    let positions = sqlx::query_scalar(
        "SELECT position FROM events WHERE event_type = 'CreditsAdjusted' ORDER BY position",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    (app, positions)
}

async fn check(pool: &PgPool) -> Report {
    let options = VerifyOptions {
        from_checkpoint: false,
        public_key: Some(test_seal_key().public_key()),
    };
    verify(pool, &options).await.expect("verify runs")
}

/// Runs `sql` with triggers off, as one transaction.
async fn tamper(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

fn first_break(report: &Report) -> (i64, String) {
    let first = report.breaks.first().expect("a break is reported");
    (first.position, first.reason.clone())
}

#[tokio::test]
async fn a_clean_log_verifies_whole_and_from_its_latest_checkpoint() {
    let (app, _) = sealed_app().await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let report = check(&app.db.pool).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events_checked + report.pending, events, "{report:?}");
    assert!(report.checkpoints_checked >= 2, "{report:?}");

    let incremental = verify(
        &app.db.pool,
        &VerifyOptions {
            from_checkpoint: true,
            public_key: Some(test_seal_key().public_key()),
        },
    )
    .await
    .unwrap();
    assert!(incremental.ok(), "{incremental:?}");
    assert!(incremental.from_index > 0, "{incremental:?}");
    assert!(incremental.events_checked < report.events_checked);

    // Verifying while commands keep coming (and the sealer keeps sealing) finds nothing wrong:
    // what is sealed meanwhile is left for the next run.
    let writer = {
        let bus = app.db.bus();
        let account = open_account(&app, "busy").await;
        tokio::spawn(async move {
            for _ in 0..200 {
                let command = domain::tenancy::account::AccountCommand::AdjustCredits {
                    amount: domain::kit::money::Credits::signed(1).unwrap(),
                    reason: domain::kit::values::Reason::parse("while verifying").unwrap(),
                };
                let context = projections::CommandContext::new(domain::Actor::new(
                    domain::ActorKind::Operator,
                    "op",
                ));
                bus.execute::<domain::tenancy::account::Account>(&account, command, &context)
                    .await
                    .unwrap();
            }
        })
    };
    while !writer.is_finished() {
        let during = check(&app.db.pool).await;
        assert!(during.ok(), "{during:?}");
    }
    writer.await.unwrap();

    // GraphQL shows the chain, the signed checkpoint and the last verification.
    let body = app
        .graphql(
            "{ sealStatus { publicKey sealed sealedThrough latestCheckpoint { chainIndex \
             position seal signedAt publicKey signature } lastVerification { ok eventsChecked } } }",
            json!({}),
        )
        .await;
    let status = &body["data"]["sealStatus"];
    assert_eq!(
        status["publicKey"],
        hex(&test_seal_key().public_key()),
        "{body}"
    );
    assert_eq!(status["latestCheckpoint"]["publicKey"], status["publicKey"]);
    assert_eq!(status["lastVerification"]["ok"], true);
    assert!(status["sealed"].as_i64() >= Some(report.events_checked));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_changed_byte_in_any_field_is_found_at_its_position_and_named() {
    for (column, change, named) in [
        ("payload", "payload = payload || '{\"x\": 1}'", "payload"),
        (
            "metadata",
            "metadata = jsonb_set(metadata, '{reason}', '\"nothing to see\"')",
            "metadata",
        ),
        (
            "recorded_at",
            "recorded_at = recorded_at + interval '1 microsecond'",
            "recorded_at",
        ),
        ("event_type", "event_type = 'CreditsGranted'", "event_type"),
        (
            "aggregate_id",
            "aggregate_id = aggregate_id || 'x'",
            "aggregate_id",
        ),
    ] {
        let (app, positions) = sealed_app().await;
        let target = positions[4];
        tamper(
            &app.db.pool,
            &format!("UPDATE events SET {change} WHERE position = {target}"),
        )
        .await;
        let report = check(&app.db.pool).await;
        let (position, reason) = first_break(&report);
        assert_eq!(position, target, "{column}: {report:?}");
        assert!(reason.contains(named), "{column}: {reason}");
    }
}

#[tokio::test]
async fn deleted_inserted_and_swapped_rows_and_sequence_gaps_are_told_apart() {
    // A deleted row.
    let (app, positions) = sealed_app().await;
    tamper(
        &app.db.pool,
        &format!("DELETE FROM events WHERE position = {}", positions[1]),
    )
    .await;
    let report = check(&app.db.pool).await;
    let (position, reason) = first_break(&report);
    assert_eq!(position, positions[1], "{report:?}");
    assert!(reason.contains("deleted"), "{reason}");
    assert!(
        report
            .breaks
            .iter()
            .any(|b| b.reason.contains("goes from sequence")),
        "the gap in the aggregate's sequences is reported too: {report:?}"
    );

    // A row inserted into the sealed part of the log (an old transaction id, a fresh position).
    let (app, positions) = sealed_app().await;
    tamper(
        &app.db.pool,
        &format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, position, transaction_id, recorded_at) \
             OVERRIDING SYSTEM VALUE \
             SELECT aggregate_type, 'forged-' || aggregate_id, 1, event_type, event_version, \
             payload, metadata, 1000000, transaction_id, recorded_at \
             FROM events WHERE position = {}",
            positions[3]
        ),
    )
    .await;
    let report = check(&app.db.pool).await;
    let (position, reason) = first_break(&report);
    assert_eq!(position, 1_000_000, "{report:?}");
    assert!(reason.contains("inserted"), "{reason}");

    // Two rows that changed places in the log (each takes the other's transaction id, which
    // orders the log).
    let (app, positions) = sealed_app().await;
    let (a, b) = (positions[5], positions[6]);
    tamper(
        &app.db.pool,
        &format!(
            "UPDATE events e SET transaction_id = o.transaction_id \
             FROM events o WHERE (e.position, o.position) IN (({a}, {b}), ({b}, {a}))"
        ),
    )
    .await;
    let report = check(&app.db.pool).await;
    let (position, reason) = first_break(&report);
    assert_eq!(position, a, "{report:?}");
    assert!(reason.contains("out of order"), "{reason}");

    // A sequence number changed: the seal names the field, and the gap is reported.
    let (app, positions) = sealed_app().await;
    let last = *positions.last().unwrap();
    tamper(
        &app.db.pool,
        &format!("UPDATE events SET sequence = sequence + 10 WHERE position = {last}"),
    )
    .await;
    let report = check(&app.db.pool).await;
    assert!(
        report
            .breaks
            .iter()
            .any(|b| b.position == last && b.reason.contains("sequence changed")),
        "{report:?}"
    );
    assert!(
        report
            .breaks
            .iter()
            .any(|b| b.reason.contains("goes from sequence")),
        "{report:?}"
    );
}

#[tokio::test]
async fn checkpoints_catch_a_resealed_rewrite_a_forged_signature_and_another_key() {
    // The intruder rewrites an event and reseals the whole chain after it, without the key.
    let (app, positions) = sealed_app().await;
    let target = positions[1];
    tamper(
        &app.db.pool,
        &format!("UPDATE events SET payload = payload || '{{\"x\": 1}}' WHERE position = {target}"),
    )
    .await;
    reseal(&app.db.pool).await;
    let report = check(&app.db.pool).await;
    assert!(!report.ok(), "{report:?}");
    assert!(
        report
            .breaks
            .iter()
            .all(|b| b.reason.contains("rewritten and resealed")),
        "only the signed checkpoints can tell: {report:?}"
    );
    assert!(report.breaks[0].position >= target, "{report:?}");

    // A checkpoint whose signature was altered.
    let (app, _) = sealed_app().await;
    tamper(
        &app.db.pool,
        "UPDATE seal_checkpoints SET signature = set_byte(signature, 0, (get_byte(signature, 0) + 1) % 256) \
         WHERE chain_index = (SELECT max(chain_index) FROM seal_checkpoints)",
    )
    .await;
    let report = check(&app.db.pool).await;
    let (_, reason) = first_break(&report);
    assert!(reason.contains("signature does not verify"), "{reason}");

    // Checkpoints signed by a key that is not the installation's.
    let (app, _) = sealed_app().await;
    let other = SealKey::from_hex(&"07".repeat(32)).unwrap();
    let report = verify(
        &app.db.pool,
        &VerifyOptions {
            from_checkpoint: false,
            public_key: Some(other.public_key()),
        },
    )
    .await
    .unwrap();
    let (_, reason) = first_break(&report);
    assert!(reason.contains("not by this installation's"), "{reason}");
}

/// Recomputes every seal from the events as they now are, as an intruder with database access
/// (but not the signing key) would.
async fn reseal(pool: &PgPool) {
    let order: Vec<(i64,)> =
        sqlx::query_as("SELECT position FROM event_seals ORDER BY chain_index")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut previous = GENESIS;
    let mut sql = String::new();
    for (position,) in order {
        let event: SealedEvent = sqlx::query_as(&format!(
            "SELECT {SEALED_COLUMNS} FROM events WHERE position = $1"
        ))
        .bind(position)
        .fetch_one(pool)
        .await
        .unwrap();
        let digests = event.digests();
        previous = seal(&previous, &digests);
        sql.push_str(&format!(
            "UPDATE event_seals SET seal = '\\x{}', digests = '\\x{}' WHERE position = {position};",
            hex(&previous),
            hex(&projections::audit::seal::short_digests(&digests))
        ));
    }
    tamper(pool, &sql).await;
}
