//! The command line as an auditor runs it: the real `igny8-admin` binary, in its own process,
//! against its own database (created by the binary itself, as on a fresh machine).

use serde_json::Value;
use sqlx::PgPool;
use std::process::{Command, Output};
use uuid::Uuid;

const SEAL_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database of its own, and the binary pointed at it.
struct Shell {
    name: String,
    url: String,
}

impl Shell {
    fn new() -> Self {
        let name = format!("igny8_test_cli_{}", Uuid::new_v4().simple());
        let url = format!("{}/{name}", server_url());
        Self { name, url }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_igny8-admin"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("IGNY8_SEAL_KEY", SEAL_KEY)
            .env("RUST_LOG", "warn")
            .output()
            .expect("igny8-admin runs")
    }

    /// Runs `args`, which must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "{args:?}: {}", said(&output));
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Runs `args`, which must fail; everything it said.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "{args:?} succeeded: {}",
            said(&output)
        );
        said(&output)
    }

    async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url)
            .await
            .expect("the CLI's database")
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&format!("{}/postgres", server_url()), "-qc"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn replay_and_verify_from_the_shell() {
    let shell = Shell::new();
    shell.ok(&["seed-demo", "--accounts", "3"]);
    let pool = shell.pool().await;
    let (id, latest): (String, i64) = sqlx::query_as(
        "SELECT aggregate_id, max(sequence) FROM events WHERE aggregate_type = 'account' \
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(latest > 2, "a seeded account has a history");

    // Its latest state is what the read model shows; version 1 is its opening.
    let now: Value =
        serde_json::from_str(&shell.ok(&["replay", "account", &id, "--json"])).unwrap();
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM read.accounts WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(now["version"], latest, "{now}");
    assert_eq!(now["latest_version"], latest);
    assert_eq!(now["stopped_at"]["sequence"], latest);
    assert_eq!(now["state"]["balance"], balance, "{now}");
    let first: Value =
        serde_json::from_str(&shell.ok(&["replay", "account", &id, "--version", "1", "--json"]))
            .unwrap();
    assert_eq!(first["version"], 1);
    assert_eq!(first["stopped_at"]["event_type"], "AccountOpened");
    assert_eq!(first["state"]["opened"], true);
    let text = shell.ok(&["replay", "account", &id, "--version", "1"]);
    assert!(
        text.contains(&format!("account {id} as of version 1 of {latest}"))
            && text.contains("stopped at AccountOpened (sequence 1"),
        "{text}"
    );

    // Mistakes are said plainly, and the exit status says they failed.
    let unknown = Uuid::new_v4().to_string();
    for (args, expected) in [
        (
            vec!["replay", "account", unknown.as_str()],
            "there is no account with id",
        ),
        (vec!["replay", "spaceship", "x"], "the types are"),
        (
            vec!["replay", "account", id.as_str(), "--version", "0"],
            "counts from 1",
        ),
        (
            vec!["replay", "account", id.as_str(), "--version", "999999"],
            "there is no version 999999",
        ),
        (
            vec![
                "replay",
                "account",
                id.as_str(),
                "--at",
                "2999-01-01T00:00:00Z",
            ],
            "cannot look into the future",
        ),
        (
            vec!["replay", "account", id.as_str(), "--at", "yesterday"],
            "invalid value 'yesterday'",
        ),
    ] {
        let said = shell.fails(&args);
        assert!(said.contains(expected), "{args:?}: {said}");
    }

    // A clean log verifies (exit 0); a changed byte is found, and the exit status says so.
    let verified = shell.ok(&["verify"]);
    assert!(verified.contains("OK: the log verifies"), "{verified}");
    let position: i64 =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = $1 AND sequence = 2")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for statement in [
        "ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete".to_string(),
        format!("UPDATE events SET recorded_at = recorded_at + interval '1 second' WHERE position = {position}"),
        "ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete".to_string(),
    ] {
        sqlx::query(&statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let broken = shell.fails(&["verify"]);
    assert!(
        broken.contains(&format!("BROKEN at position {position}"))
            && broken.contains("recorded_at"),
        "{broken}"
    );
    pool.close().await;
}
