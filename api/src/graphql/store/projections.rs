//! How far each projection and process manager has got in the log.

use crate::error::ApiError;
use crate::graphql::{services, Rule};
use async_graphql::{Context, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::stream::{self, Stream, StreamExt};

#[derive(SimpleObject, Debug, Clone)]
pub struct ProjectionStatus {
    pub name: String,
    /// Global position of the last event applied.
    pub position: i64,
    pub events_applied: i64,
    /// Events recorded but not yet applied (counted up to 100000).
    pub pending: i64,
    /// Age in seconds of the oldest event not yet applied; 0 when caught up.
    pub lag_seconds: f64,
    pub updated_at: DateTime<Utc>,
    /// Set while the projection is held at an event it cannot apply; it retries by itself and
    /// goes on once a build that can apply the event runs.
    pub stuck: Option<StuckEvent>,
}

/// An event a projection cannot apply.
#[derive(SimpleObject, Debug, Clone)]
pub struct StuckEvent {
    pub position: i64,
    pub event_type: String,
    /// Why it cannot be applied, as the projection reported it. Superusers only: it may quote
    /// the database.
    #[graphql(guard = "Rule::Superuser")]
    pub cause: String,
    pub since: DateTime<Utc>,
}

#[derive(Default)]
pub struct ProjectionQuery;

#[Object]
impl ProjectionQuery {
    #[graphql(guard = "Rule::Staff")]
    async fn projections(&self, ctx: &Context<'_>) -> Result<Vec<ProjectionStatus>, ApiError> {
        let statuses = services(ctx).engine.status().await?;
        Ok(statuses
            .into_iter()
            .map(|s| ProjectionStatus {
                name: s.name,
                position: s.checkpoint.position,
                events_applied: s.events_applied,
                pending: s.pending,
                lag_seconds: s.lag_seconds,
                updated_at: s.updated_at,
                stuck: s.stuck.map(|stuck| StuckEvent {
                    position: stuck.event.position,
                    event_type: stuck.event.event_type,
                    cause: stuck.cause,
                    since: stuck.since,
                }),
            })
            .collect())
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct ProjectionProgress {
    pub name: String,
    pub position: i64,
}

#[derive(Default)]
pub struct ProjectionSubscription;

#[Subscription]
impl ProjectionSubscription {
    /// Emits whenever a projection run by this server commits a batch.
    #[graphql(guard = "Rule::Staff")]
    async fn projection_progress(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ProjectionProgress>, ApiError> {
        let engine = &services(ctx).engine;
        let streams = engine.handler_names().into_iter().filter_map(|name| {
            let receiver = engine.watch(name)?;
            Some(
                stream::unfold(receiver, move |mut receiver| async move {
                    receiver.changed().await.ok()?;
                    let position = receiver.borrow_and_update().position;
                    Some((
                        ProjectionProgress {
                            name: name.to_string(),
                            position,
                        },
                        receiver,
                    ))
                })
                .boxed(),
            )
        });
        Ok(stream::select_all(streams))
    }
}
