//! Work one server does at a time (the scheduler's deadlines, the alert evaluator's rules): a
//! run under a PostgreSQL advisory lock, skipped by a server that cannot take it, and a loop
//! running it on the wall clock.

use crate::store::engine::HandlerError;
use sqlx::PgPool;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `work`'s outcome, run holding the advisory lock keyed by `name` (through
/// `projection_lock_key`, like the projectors' locks, so `name` must not be a handler's);
/// `None` when another server holds it.
pub async fn alone<T>(
    pool: &PgPool,
    name: &str,
    work: impl Future<Output = Result<T, HandlerError>>,
) -> Result<Option<T>, HandlerError> {
    let mut lock = pool.acquire().await?;
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(projection_lock_key($1))")
        .bind(name)
        .fetch_one(&mut *lock)
        .await?;
    if !held {
        return Ok(None);
    }
    let outcome = work.await;
    // Released with the connection too, should this fail.
    sqlx::query("SELECT pg_advisory_unlock(projection_lock_key($1))")
        .bind(name)
        .execute(&mut *lock)
        .await?;
    outcome.map(Some)
}

/// Runs `tick` every `every` on the wall clock (a late tick delays the next) until `stop`.
pub async fn every<Fut>(every: Duration, stop: CancellationToken, mut tick: impl FnMut() -> Fut)
where
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        tick().await;
    }
}
