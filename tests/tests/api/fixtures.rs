//! Test-only aggregate and projection, so the store and engine are proven on their own terms.

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use projections::store::engine::{Consumes, EventHandler, HandlerError};
use projections::RecordedEvent;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::fmt;

/// A counter: the smallest aggregate that still has state and invariants.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counter {
    total: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CounterCommand {
    Add(i64),
    /// Adds one, `n` times: a command that appends `n` events.
    Steps(i64),
    /// Decides nothing: a command that appends no events.
    Nothing,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum CounterEvent {
    Added { by: i64, total: i64 },
}

domain::stored_event!(CounterEvent);

#[derive(Debug, PartialEq)]
pub struct CounterError(pub String);

impl fmt::Display for CounterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CounterError {}

impl domain::kit::event::StoredAggregate for Counter {}

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = CounterError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CounterCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CounterError> {
        match command {
            CounterCommand::Add(by) if by <= 0 => Err(CounterError("add a positive number".into())),
            CounterCommand::Add(by) => {
                let event = CounterEvent::Added {
                    by,
                    total: self.total + by,
                };
                sink.write(event, self).await;
                Ok(())
            }
            CounterCommand::Steps(n) => {
                for _ in 0..n {
                    // The sink applies each event, so `total` moves as the steps are written.
                    let event = CounterEvent::Added {
                        by: 1,
                        total: self.total + 1,
                    };
                    sink.write(event, self).await;
                }
                Ok(())
            }
            CounterCommand::Nothing => Ok(()),
        }
    }

    fn apply(&mut self, event: CounterEvent) {
        let CounterEvent::Added { total, .. } = event;
        self.total = total;
    }
}

/// Records every event it is given, with the order it was applied in. The primary key on
/// `position` turns a double application into an error, which the tests would see.
pub struct Seen {
    pub name: &'static str,
}

impl Seen {
    pub async fn install(pool: &PgPool, name: &'static str) -> Self {
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS seen_{name} (position bigint PRIMARY KEY, \
             aggregate_id text NOT NULL, sequence bigint NOT NULL, applied bigserial)"
        ))
        .execute(pool)
        .await
        .expect("seen table");
        Self { name }
    }

    /// (position, aggregate id, sequence) in position order: the table's content, for comparing.
    pub async fn snapshot(pool: &PgPool, name: &str) -> Vec<(i64, String, i64)> {
        sqlx::query_as(&format!(
            "SELECT position, aggregate_id, sequence FROM seen_{name} ORDER BY position"
        ))
        .fetch_all(pool)
        .await
        .expect("snapshot")
    }

    pub async fn count(pool: &PgPool, name: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM seen_{name}"))
            .fetch_one(pool)
            .await
            .expect("count")
    }

    /// Aggregates whose events were applied out of sequence order or with gaps.
    pub async fn out_of_order(pool: &PgPool, name: &str) -> Vec<String> {
        sqlx::query_scalar(&format!(
            "SELECT aggregate_id FROM ( \
               SELECT aggregate_id, sequence, \
                      row_number() OVER (PARTITION BY aggregate_id ORDER BY applied) AS nth \
               FROM seen_{name}) s \
             WHERE sequence <> nth GROUP BY aggregate_id"
        ))
        .fetch_all(pool)
        .await
        .expect("order check")
    }
}

#[async_trait]
impl EventHandler for Seen {
    fn name(&self) -> &'static str {
        self.name
    }

    fn consumes(&self) -> Consumes {
        Consumes::Everything
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query(&format!("TRUNCATE seen_{} RESTART IDENTITY", self.name))
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let positions: Vec<i64> = events.iter().map(|e| e.at.position).collect();
        let ids: Vec<&str> = events.iter().map(|e| e.aggregate_id.as_str()).collect();
        let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
        sqlx::query(&format!(
            "INSERT INTO seen_{} (position, aggregate_id, sequence) \
             SELECT p, a, s FROM unnest($1::bigint[], $2::text[], $3::bigint[]) WITH ORDINALITY AS t(p, a, s, o) \
             ORDER BY o",
            self.name
        ))
        .bind(&positions)
        .bind(&ids)
        .bind(&sequences)
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl domain::kit::error::Coded for CounterError {
    fn code(&self) -> domain::ErrorCode {
        domain::ErrorCode::Validation
    }
}
