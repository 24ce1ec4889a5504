//! `POST /ingest/activity`: the platform's activity in NDJSON, for volume. Each line is one
//! record, the JSON of GraphQL's `ActivityRecordInput`; the answer is NDJSON too, one line per
//! record in the order sent, then a summary line. The answer does not wait for the read models
//! (the platform does not read its reports back): its summary says whether they already show
//! the records, and `?wait=true` waits for them, as a mutation's answer does.
//!
//! The body is read as it arrives and recorded a chunk of lines at a time, so a large upload
//! never sits in memory whole. The answer is written once the body is read: a client that sends
//! before it reads (most do) would otherwise fill the socket with answers while the server
//! waits for more body, and both would stop. So that the answer stays small, a request carries
//! at most [`MAX_RECORDS`] records; the lines after that are answered as not read.

use crate::error::ApiError;
use crate::graphql::operations::activity::{
    ingest, latest, ActivityRecordInput, ActivityRecordResult,
};
use crate::graphql::settle_on;
use crate::http::{error_response, principal_of, AppState};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cqrs_es::Aggregate;
use domain::operations::activity::ActivityRecord;
use domain::ErrorCode;
use futures::StreamExt;
use projections::CommandContext;
use serde_json::json;
use std::net::SocketAddr;

/// Records recorded together: one load and one append each.
const CHUNK: usize = 1_000;
/// The most records one request carries.
pub const MAX_RECORDS: usize = 100_000;
/// The longest line: a record is a few hundred bytes.
const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// Wait (bounded) for the read models to show the records before answering.
    #[serde(default)]
    wait: bool,
}

pub async fn activity(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<IngestParams>, QueryRejection>,
    body: Body,
) -> Response {
    let principal = match principal_of(&state, &headers).await {
        Ok(principal) => principal,
        Err((refused, _)) => return refused,
    };
    let wait = match params {
        Ok(Query(params)) => params.wait,
        Err(rejection) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::validation(format!(
                    "the parameters are not valid: {} (the only one is `wait=true|false`)",
                    rejection.body_text()
                )),
            )
        }
    };
    if !principal.service {
        return error_response(
            StatusCode::FORBIDDEN,
            ApiError::forbidden("only the platform's service principal reports activity"),
        );
    }
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    if !ndjson {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the records as `content-type: application/x-ndjson`, one JSON record per line",
            ),
        );
    }
    let mut context = CommandContext::new(principal.actor());
    context.request_id = Some(crate::http::request_id(&headers));
    context.client_addr = Some(peer.ip().to_string());

    let mut answer = Answer::default();
    let mut lines = Lines::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut stream = body.into_data_stream();
    let mut unread = false;
    'body: while let Some(bytes) = stream.next().await {
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(_) => {
                // The client went away or broke the body: what was recorded stays recorded.
                return error_response(
                    StatusCode::BAD_REQUEST,
                    ApiError::new(ErrorCode::BadRequest, "the request body was cut off"),
                );
            }
        };
        for line in lines.push(&bytes) {
            if answer.records + chunk.len() == MAX_RECORDS {
                unread = true;
                break 'body;
            }
            chunk.push(line);
            if chunk.len() == CHUNK {
                if let Err(e) = answer.record(&state, &context, &mut chunk).await {
                    return error_response(StatusCode::INTERNAL_SERVER_ERROR, e);
                }
            }
        }
    }
    if !unread {
        if let Some(last) = lines.finish() {
            if answer.records + chunk.len() == MAX_RECORDS {
                unread = true;
            } else {
                chunk.push(last);
            }
        }
    }
    if let Err(e) = answer.record(&state, &context, &mut chunk).await {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    answer.finish(&state, unread, wait).await
}

/// Splits a byte stream into lines (numbered from 1), skipping blank ones.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    number: usize,
    too_long: bool,
}

/// One line of the body: its number and what it held.
type Line = (usize, Result<Vec<u8>, String>);

impl Lines {
    fn push(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut complete = Vec::new();
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let ends = piece.last() == Some(&b'\n');
            let piece = if ends {
                &piece[..piece.len() - 1]
            } else {
                piece
            };
            if self.partial.len() + piece.len() > MAX_LINE_BYTES {
                self.too_long = true;
            } else if !self.too_long {
                self.partial.extend_from_slice(piece);
            }
            if ends {
                complete.extend(self.take());
            }
        }
        complete
    }

    /// The last line, when the body does not end with a newline.
    fn finish(&mut self) -> Option<Line> {
        if self.partial.is_empty() && !self.too_long {
            return None;
        }
        self.take()
    }

    /// The line ended: numbered (blank ones too, so numbers match the client's), and handed on
    /// unless blank.
    fn take(&mut self) -> Option<Line> {
        self.number += 1;
        let too_long = std::mem::take(&mut self.too_long);
        let text = std::mem::take(&mut self.partial);
        if too_long {
            return Some((
                self.number,
                Err(format!("a line holds at most {MAX_LINE_BYTES} bytes")),
            ));
        }
        if text.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some((self.number, Ok(text)))
    }
}

#[derive(Default)]
struct Answer {
    body: Vec<u8>,
    records: usize,
    recorded: usize,
    duplicates: usize,
    refused: usize,
    appended: Vec<projections::Appended>,
}

impl Answer {
    /// Records the lines of `chunk` (emptying it) and writes their answers.
    async fn record(
        &mut self,
        state: &AppState,
        context: &CommandContext,
        chunk: &mut Vec<Line>,
    ) -> Result<(), ApiError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let mut numbers = Vec::with_capacity(chunk.len());
        let records = chunk
            .drain(..)
            .map(|(number, line)| {
                numbers.push(number);
                let refused = |message: String| {
                    let error = ApiError::validation(format!("line {number}: {message}"));
                    (String::new(), error)
                };
                line.map_err(refused).and_then(|text| {
                    serde_json::from_slice::<ActivityRecordInput>(&text)
                        .map_err(|e| refused(format!("not a record: {e}")))
                })
            })
            .collect();
        let (results, appended) = ingest(&state.services, context, records).await?;
        self.appended.extend(appended);
        for (number, result) in numbers.into_iter().zip(results) {
            self.count(&result);
            let mut line = serde_json::to_value(&result).expect("a result is JSON");
            line["line"] = json!(number);
            if result.id.is_empty() {
                line["id"] = serde_json::Value::Null;
            }
            serde_json::to_writer(&mut self.body, &line).expect("written to memory");
            self.body.push(b'\n');
        }
        Ok(())
    }

    fn count(&mut self, result: &ActivityRecordResult) {
        use crate::graphql::operations::activity::RecordOutcome::*;
        self.records += 1;
        match result.outcome {
            Recorded => self.recorded += 1,
            Duplicate => self.duplicates += 1,
            Refused => self.refused += 1,
        }
    }

    /// The answer: every record's line, then a summary saying whether the read models show
    /// the records (once they do, or the wait for them ran out, when asked to `wait`).
    async fn finish(mut self, state: &AppState, unread: bool, wait: bool) -> Response {
        let services = &state.services;
        let timeout = if wait {
            services.read_your_writes_timeout
        } else {
            std::time::Duration::ZERO
        };
        let appended = latest(std::mem::take(&mut self.appended));
        let receipt = settle_on(services, &appended, ActivityRecord::TYPE, timeout).await;
        let mut summary = json!({
            "summary": {
                "records": self.records,
                "recorded": self.recorded,
                "duplicates": self.duplicates,
                "refused": self.refused,
                "caughtUp": receipt.caught_up,
                "position": receipt.position,
            }
        });
        if unread {
            summary["summary"]["unread"] = json!(format!(
                "a request carries at most {MAX_RECORDS} records: the lines after record \
                 {MAX_RECORDS} were not read; send them in another request"
            ));
        }
        serde_json::to_writer(&mut self.body, &summary).expect("written to memory");
        self.body.push(b'\n');
        ([(header::CONTENT_TYPE, "application/x-ndjson")], self.body).into_response()
    }
}
