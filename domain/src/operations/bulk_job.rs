//! Bulk jobs: a bulk action over more items than one request answers (or over a list's
//! filter), carried out in the background a chunk at a time. The job records what it covers
//! (the exact items, chosen when it starts, so a filter's later matches are not swept in), the
//! result of every item, and its end: completed, or cancelled by a person.
//!
//! Decisions:
//! - The action is opaque here: the API names it and keeps its arguments as JSON, and runs each
//!   item as its own command (with its own idempotency key). The job only keeps the books.
//! - Results are recorded in order, from where the job stands. A result for items already
//!   recorded is a no-op, so a runner that resumes after a crash may repeat a chunk safely.
//! - Items are recorded after cancellation too: those already under way did run, and the job
//!   says so.
//! - Starting a job that exists with the same action and items is a no-op (a retried
//!   request); with others it is a `CONFLICT`.

use crate::kit::actor::Actor;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::text_enum;
use crate::kit::values::Reason;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The most items one job may cover.
pub const MAX_ITEMS: usize = 50_000;

/// The most results one `Record` may carry.
pub const MAX_RESULTS_PER_RECORD: usize = 1_000;

const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x6a1e_0b5c_2f7d_4c1e_9a3b_51d0_7e44_b0b5);

text_enum! {
    /// Where a job stands.
    pub enum JobStatus {
        /// Items are being carried out.
        Running,
        /// Every item has a result.
        Completed,
        /// A person stopped it; the items without a result were not carried out.
        Cancelled,
    }
}

text_enum! {
    /// What became of one item.
    pub enum ItemOutcome {
        /// The command was carried out (now, or by an earlier try of the same request).
        Done,
        /// Nothing to do: the item was already as asked.
        NoOp,
        /// The item's command was refused; the result says why.
        Refused,
    }
}

/// One item's result, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub id: Uuid,
    pub outcome: ItemOutcome,
    /// A stable error code, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The log position of the item's last event, when it appended any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// True when an earlier try of the same request had already done it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// What a job is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The action as the API names it (`payment-Approve`); the items' idempotency keys carry it.
    pub action: String,
    /// The list the items belong to (`payment`, `account`, …), for the API to run them.
    pub list: String,
    /// The action's arguments, as the API keeps them.
    pub arguments: serde_json::Value,
    /// The caller's key for the request: retrying with it does nothing twice.
    pub bulk_key: String,
    pub reason: Reason,
    /// Who the items run as: the person who started the job.
    pub run_as: Actor,
    /// The list filter the items were chosen by, when they were not named.
    pub filter: Option<serde_json::Value>,
    pub items: Vec<Uuid>,
}

impl JobSpec {
    /// A job's id: one per person, action and key, so a retried request finds its job.
    pub fn job_id(&self) -> Uuid {
        let name = format!(
            "{}\n{}\n{}\n{}",
            self.run_as, self.list, self.action, self.bulk_key
        );
        Uuid::new_v5(&JOB_NAMESPACE, name.as_bytes())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BulkJobCommand {
    Start(JobSpec),
    /// The results of the items from index `from` on, in order.
    Record {
        from: usize,
        results: Vec<ItemResult>,
    },
    /// Safe to repeat.
    Cancel {
        reason: Reason,
    },
}

/// Counts of results by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub done: u32,
    pub no_op: u32,
    pub refused: u32,
}

impl Tally {
    pub fn processed(&self) -> usize {
        (self.done + self.no_op + self.refused) as usize
    }

    fn add(&mut self, results: &[ItemResult]) {
        for result in results {
            match result.outcome {
                ItemOutcome::Done => self.done += 1,
                ItemOutcome::NoOp => self.no_op += 1,
                ItemOutcome::Refused => self.refused += 1,
            }
        }
    }
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum BulkJobEvent {
    BulkJobStarted {
        spec: JobSpec,
    },
    /// Results of items `from..from + results.len()`; `tally` counts every result so far.
    BulkJobItemsRecorded {
        from: usize,
        results: Vec<ItemResult>,
        tally: Tally,
    },
    BulkJobCompleted {
        tally: Tally,
    },
    BulkJobCancelled {
        reason: Reason,
        /// Items with a result when it was cancelled.
        processed: usize,
    },
}

crate::stored_event!(BulkJobEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BulkJobError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `NOT_FOUND`
    #[error("no such bulk job")]
    NotFound,
    /// `CONFLICT`
    #[error("this bulk key already started a job over other items; use a new key")]
    KeyTaken,
    /// `CONFLICT`
    #[error("the job has completed; there is nothing left to cancel")]
    Completed,
    /// `CONFLICT`: a runner recorded out of order (another runner is ahead or behind).
    #[error("results from item {from} do not follow the {processed} items recorded")]
    OutOfOrder { from: usize, processed: usize },
}

impl Coded for BulkJobError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::KeyTaken | Self::Completed | Self::OutOfOrder { .. } => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Started {
    spec: JobSpec,
    tally: Tally,
    status: JobStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkJob {
    started: Option<Started>,
}

impl BulkJob {
    pub fn spec(&self) -> Option<&JobSpec> {
        self.started.as_ref().map(|s| &s.spec)
    }

    pub fn status(&self) -> Option<JobStatus> {
        self.started.as_ref().map(|s| s.status)
    }

    /// The items still to do, from the first without a result; empty once the job has ended.
    pub fn pending(&self, at_most: usize) -> (usize, &[Uuid]) {
        match &self.started {
            Some(s) if s.status == JobStatus::Running => {
                let from = s.tally.processed();
                let to = (from + at_most).min(s.spec.items.len());
                (from, &s.spec.items[from..to])
            }
            _ => (0, &[]),
        }
    }

    /// `Ok(vec![])` means the command is already satisfied and nothing is recorded.
    fn decide(&self, command: BulkJobCommand) -> Result<Vec<BulkJobEvent>, BulkJobError> {
        use BulkJobCommand as C;
        use BulkJobEvent as E;
        let Some(started) = &self.started else {
            let C::Start(spec) = command else {
                return Err(BulkJobError::NotFound);
            };
            check(&spec)?;
            return Ok(vec![E::BulkJobStarted { spec }]);
        };
        match command {
            C::Start(spec) if same_request(&spec, &started.spec) => Ok(vec![]),
            C::Start(_) => Err(BulkJobError::KeyTaken),
            C::Record { from, results } => started.record(from, results),
            C::Cancel { .. } if started.status == JobStatus::Cancelled => Ok(vec![]),
            C::Cancel { .. } if started.status == JobStatus::Completed => {
                Err(BulkJobError::Completed)
            }
            C::Cancel { reason } => Ok(vec![E::BulkJobCancelled {
                reason,
                processed: started.tally.processed(),
            }]),
        }
    }
}

impl Started {
    fn record(
        &self,
        from: usize,
        results: Vec<ItemResult>,
    ) -> Result<Vec<BulkJobEvent>, BulkJobError> {
        let processed = self.tally.processed();
        if from > processed {
            return Err(BulkJobError::OutOfOrder { from, processed });
        }
        if results.len() > MAX_RESULTS_PER_RECORD {
            return Err(BulkJobError::Invalid(format!(
                "at most {MAX_RESULTS_PER_RECORD} results at a time, got {}",
                results.len()
            )));
        }
        // A repeated chunk (a runner resuming after a crash): keep only what is new.
        let results: Vec<ItemResult> = results.into_iter().skip(processed - from).collect();
        if results.is_empty() {
            return Ok(vec![]);
        }
        let items = &self.spec.items;
        if processed + results.len() > items.len() {
            return Err(BulkJobError::Invalid(format!(
                "{} results past the job's {} items",
                processed + results.len() - items.len(),
                items.len()
            )));
        }
        if let Some((at, result)) = results
            .iter()
            .enumerate()
            .find(|(i, result)| result.id != items[processed + i])
        {
            return Err(BulkJobError::Invalid(format!(
                "result {} is for {}, not for the job's item {}",
                processed + at,
                result.id,
                items[processed + at]
            )));
        }
        let mut tally = self.tally;
        tally.add(&results);
        let complete = tally.processed() == items.len() && self.status == JobStatus::Running;
        let mut events = vec![BulkJobEvent::BulkJobItemsRecorded {
            from: processed,
            results,
            tally,
        }];
        if complete {
            events.push(BulkJobEvent::BulkJobCompleted { tally });
        }
        Ok(events)
    }
}

fn check(spec: &JobSpec) -> Result<(), BulkJobError> {
    let invalid = |message: String| Err(BulkJobError::Invalid(message));
    if spec.items.is_empty() {
        return invalid(
            "a bulk job covers at least one item: the ids or the filter chose none".into(),
        );
    }
    if spec.items.len() > MAX_ITEMS {
        return invalid(format!(
            "a bulk job covers at most {MAX_ITEMS} items, got {}; narrow the filter or split the ids",
            spec.items.len()
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(spec.items.len());
    if let Some(twice) = spec.items.iter().find(|id| !seen.insert(**id)) {
        return invalid(format!("the items name {twice} more than once"));
    }
    if spec.action.is_empty() || spec.list.is_empty() {
        return invalid("a bulk job names its list and action".into());
    }
    Ok(())
}

/// A retry of the request that started the job: the same action, arguments and items (a
/// retried filter may match more by now; the job keeps the items it started with).
fn same_request(retry: &JobSpec, started: &JobSpec) -> bool {
    retry.action == started.action
        && retry.list == started.list
        && retry.arguments == started.arguments
        && (retry.filter.is_some() || retry.items == started.items)
        && retry.filter == started.filter
}

impl crate::kit::event::StoredAggregate for BulkJob {}

impl Aggregate for BulkJob {
    const TYPE: &'static str = "bulk_job";
    type Command = BulkJobCommand;
    type Event = BulkJobEvent;
    type Error = BulkJobError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use BulkJobEvent as E;
        match event {
            E::BulkJobStarted { spec } => {
                self.started = Some(Started {
                    spec,
                    tally: Tally::default(),
                    status: JobStatus::Running,
                });
            }
            E::BulkJobItemsRecorded { tally, .. } => {
                if let Some(started) = &mut self.started {
                    started.tally = tally;
                }
            }
            E::BulkJobCompleted { .. } => {
                if let Some(started) = &mut self.started {
                    started.status = JobStatus::Completed;
                }
            }
            E::BulkJobCancelled { .. } => {
                if let Some(started) = &mut self.started {
                    started.status = JobStatus::Cancelled;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
