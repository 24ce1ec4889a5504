//! Exports for auditors and analysts: the audit trail and one aggregate's history, as CSV or
//! XLSX, with the same filters as their GraphQL lists; the other lists are in [`lists`], the
//! reports in [`reports`].
//!
//! `GET /export/audit-log?format=csv|xlsx&actorId=&action=&aggregateType=&aggregateId=&accountId=&occurredFrom=&occurredTo=`
//! `GET /export/history?format=csv|xlsx&aggregateType=&aggregateId=&actorId=&action=&field=&occurredFrom=&occurredTo=`
//!
//! Streamed: CSV goes out as rows are read, so a million rows never sit in memory. XLSX is a zip
//! whose directory comes last, so it is written row by row to a temporary file (the writer keeps
//! only the current row in memory) and then streamed from it. A failure after the first bytes
//! aborts the response rather than end it early, so a truncated file is never taken for whole.
//! Cells that a spreadsheet would run as formulas (`=`, `+`, `-`, `@`) are prefixed with `'`.

pub mod lists;
pub mod reports;

use crate::error::ApiError;
use crate::graphql::audit::audit_log::{AuditEntry, AuditFilter};
use crate::graphql::kit::lists::DateRange;
use crate::http::{error_response, reader_of, AppState};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::identity::permission::Permission;
use futures::TryStreamExt;
use projections::audit::history::{self, HistoryFilter, Version};
use serde::Deserialize;
use sqlx::{PgPool, QueryBuilder};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditParams {
    format: Format,
    actor_id: Option<String>,
    action: Option<String>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    account_id: Option<String>,
    occurred_from: Option<DateTime<Utc>>,
    occurred_to: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryParams {
    format: Format,
    aggregate_type: String,
    aggregate_id: String,
    actor_id: Option<String>,
    action: Option<String>,
    field: Option<String>,
    occurred_from: Option<DateTime<Utc>>,
    occurred_to: Option<DateTime<Utc>>,
}

const AUDIT_COLUMNS: [&str; 13] = [
    "position",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "actor_kind",
    "action",
    "aggregate_type",
    "aggregate_id",
    "account_id",
    "reason",
    "request_id",
    "correlation_id",
    "payload",
];

const HISTORY_COLUMNS: [&str; 11] = [
    "version",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "actor_kind",
    "events",
    "reason",
    "request_id",
    "correlation_id",
    "changes",
    "payloads",
];

/// A refused export: the same error document as GraphQL's.
fn refuse(status: StatusCode, error: ApiError) -> Response {
    error_response(status, error)
}

/// The HTTP status of an export refused with `code`: the caller's mistakes are 4xx.
pub(crate) fn status_of(code: domain::ErrorCode) -> StatusCode {
    use domain::ErrorCode;
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The export's parameters, once the caller is known to hold `audit.read` (as the audit trail
/// and histories in GraphQL need) and the parameters parse.
async fn accept<T>(
    state: &AppState,
    headers: &HeaderMap,
    params: Result<Query<T>, QueryRejection>,
) -> Result<T, Response> {
    let principal = reader_of(state, headers).await.map_err(|(r, _)| r)?;
    if !principal.can(Permission::AuditRead) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            ApiError::forbidden(
                "exports need the `audit.read` permission, which none of your groups grants",
            ),
        ));
    }
    params.map(|Query(params)| params).map_err(|rejection| {
        refuse(
            StatusCode::BAD_REQUEST,
            ApiError::validation(format!(
                "the export's parameters are not valid: {}",
                rejection.body_text()
            )),
        )
    })
}

pub async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Response {
    let params = match accept(&state, &headers, params).await {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let filter = AuditFilter {
        actor_id: params.actor_id,
        action: params.action,
        aggregate_type: params.aggregate_type,
        aggregate_id: params.aggregate_id,
        account_id: params.account_id.map(Into::into),
        occurred: Some(DateRange {
            from: params.occurred_from,
            to: params.occurred_to,
        }),
    };
    // Checked here, so a bad filter is a 400 before any byte of the file goes out.
    if let Err(error) = audit_query(&filter) {
        return refuse(StatusCode::BAD_REQUEST, error);
    }
    let pool = state.pool.clone();
    let rows = move |out: mpsc::Sender<Vec<String>>| async move {
        let mut query = audit_query(&filter).map_err(|e| format!("{:?}", e.message))?;
        let mut entries = query.build_query_as::<AuditEntry>().fetch(&pool);
        while let Some(entry) = entries.try_next().await.map_err(|e| e.to_string())? {
            let cells = vec![
                entry.position.to_string(),
                time(entry.occurred_at),
                time(entry.recorded_at),
                entry.actor_id,
                entry.actor_kind,
                entry.action,
                entry.aggregate_type,
                entry.aggregate_id,
                entry
                    .account_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                entry.reason.unwrap_or_default(),
                entry.request_id.unwrap_or_default(),
                entry.correlation_id.unwrap_or_default(),
                entry.payload.to_string(),
            ];
            if out.send(cells).await.is_err() {
                break;
            }
        }
        Ok(())
    };
    stream(params.format, "audit-log", &AUDIT_COLUMNS, rows).await
}

fn audit_query(filter: &AuditFilter) -> Result<QueryBuilder<'static, sqlx::Postgres>, ApiError> {
    let mut query = QueryBuilder::new(
        "SELECT position, occurred_at, recorded_at, actor_id, actor_kind, action, aggregate_type, \
         aggregate_id, account_id, reason, request_id, correlation_id, payload \
         FROM read.audit_log WHERE true",
    );
    filter.push(&mut query)?;
    query.push(" ORDER BY position");
    Ok(query)
}

pub async fn aggregate_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    let params = match accept(&state, &headers, params).await {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let chronicles = state.chronicles.clone();
    let checked = crate::graphql::audit::history::HistoryFilter {
        actor_id: params.actor_id.clone(),
        action: params.action.clone(),
        occurred: Some(DateRange {
            from: params.occurred_from,
            to: params.occurred_to,
        }),
        field: params.field.clone(),
    }
    .checked();
    let filter = match checked {
        Ok(filter) => filter,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error),
    };
    // The first page is read before answering: an unknown type or id is a 4xx, not a file.
    let first = match first_page(&state.pool, &chronicles, &params, &filter).await {
        Ok(first) => first,
        Err(error) => return refuse(status_of(error.code), error),
    };
    let pool = state.pool.clone();
    let (aggregate_type, aggregate_id) = (params.aggregate_type, params.aggregate_id);
    let rows = move |out: mpsc::Sender<Vec<String>>| async move {
        let chronicle = chronicles.get(&aggregate_type).map_err(|e| e.to_string())?;
        let mut page = first;
        loop {
            let more = page.len() > HISTORY_PAGE;
            page.truncate(HISTORY_PAGE);
            let after = page.last().map(|v| v.version);
            for version in page {
                if out.send(history_cells(version)).await.is_err() {
                    return Ok(());
                }
            }
            if !more {
                return Ok(());
            }
            page = history::history(
                &pool,
                chronicle,
                &aggregate_id,
                &filter,
                after,
                HISTORY_PAGE,
                false,
            )
            .await
            .map_err(|e| e.to_string())?
            .versions;
        }
    };
    stream(params.format, "history", &HISTORY_COLUMNS, rows).await
}

/// Versions per history read while exporting.
const HISTORY_PAGE: usize = 500;

async fn first_page(
    pool: &PgPool,
    chronicles: &history::Chronicles,
    params: &HistoryParams,
    filter: &HistoryFilter,
) -> Result<Vec<Version>, ApiError> {
    let chronicle = chronicles.get(&params.aggregate_type)?;
    Ok(history::history(
        pool,
        chronicle,
        &params.aggregate_id,
        filter,
        None,
        HISTORY_PAGE,
        false,
    )
    .await?
    .versions)
}

fn history_cells(version: Version) -> Vec<String> {
    let changes = version
        .changes
        .iter()
        .map(|c| {
            let shown = |v: &Option<serde_json::Value>| {
                v.as_ref()
                    .map_or_else(|| "-".to_string(), |v| v.to_string())
            };
            format!("{}: {} -> {}", c.path, shown(&c.old), shown(&c.new))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let types = version
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let payloads =
        serde_json::Value::Array(version.events.iter().map(|e| e.payload.clone()).collect());
    vec![
        version.version.to_string(),
        time(version.occurred_at),
        time(version.recorded_at),
        version.actor.id,
        version.actor.kind.as_str().to_string(),
        types,
        version.reason.unwrap_or_default(),
        version.request_id.unwrap_or_default(),
        version.correlation_id,
        changes,
        payloads.to_string(),
    ]
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Runs `rows` (which sends each row's cells, in order) and streams them out as `format`.
async fn stream<F, Fut>(format: Format, name: &str, columns: &[&str], rows: F) -> Response
where
    F: FnOnce(mpsc::Sender<Vec<String>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let (row_tx, row_rx) = mpsc::channel::<Vec<String>>(256);
    let producer = tokio::spawn(rows(row_tx));
    let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let (content_type, extension, body) = match format {
        Format::Csv => (
            "text/csv; charset=utf-8",
            "csv",
            csv_body(header, row_rx, producer),
        ),
        Format::Xlsx => match xlsx_file(header, row_rx, producer).await {
            Ok(body) => (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
                body,
            ),
            Err(error) => {
                tracing::error!(%error, "export failed");
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ApiError::new(
                        domain::ErrorCode::Internal,
                        "the export failed; it has been logged",
                    ),
                );
            }
        },
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!(
        "attachment; filename=\"igny8-{name}-{}.{extension}\"",
        Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// CSV, streamed in chunks of about 64 KiB as rows arrive.
fn csv_body(
    header: Vec<String>,
    mut rows: mpsc::Receiver<Vec<String>>,
    producer: tokio::task::JoinHandle<Result<(), String>>,
) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        let mut chunk = String::new();
        csv_line(&mut chunk, &header);
        while let Some(row) = rows.recv().await {
            csv_line(&mut chunk, &row);
            if chunk.len() >= 64 * 1024
                && tx
                    .send(Ok(Bytes::from(std::mem::take(&mut chunk))))
                    .await
                    .is_err()
            {
                return;
            }
        }
        let outcome = match producer.await {
            Ok(Ok(())) => Ok(Bytes::from(chunk)),
            Ok(Err(error)) => Err(error),
            Err(error) => Err(error.to_string()),
        };
        let last = outcome.map_err(|error| {
            tracing::error!(%error, "export failed part way; the response is aborted");
            std::io::Error::other("export failed")
        });
        let _ = tx.send(last).await;
    });
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// One CSV record (RFC 4180), formulas neutralised.
fn csv_line(out: &mut String, cells: &[String]) {
    for (n, cell) in cells.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let cell = safe(cell);
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// A cell a spreadsheet will not evaluate (numbers, negative ones included, stay numbers).
fn safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err() {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// XLSX written row by row to a temporary file (constant memory), then streamed from it.
async fn xlsx_file(
    header: Vec<String>,
    mut rows: mpsc::Receiver<Vec<String>>,
    producer: tokio::task::JoinHandle<Result<(), String>>,
) -> Result<Body, String> {
    let path = std::env::temp_dir().join(format!("igny8-export-{}.xlsx", uuid::Uuid::new_v4()));
    let (row_tx, row_rx) = std::sync::mpsc::sync_channel::<Vec<String>>(256);
    let target = path.clone();
    // The writer is synchronous: it runs on a blocking thread, fed through a channel.
    let writer = tokio::task::spawn_blocking(move || write_xlsx(&target, &header, row_rx));
    while let Some(row) = rows.recv().await {
        if row_tx.send(row).is_err() {
            break;
        }
    }
    drop(row_tx);
    let written = writer.await.map_err(|e| e.to_string())?;
    let produced = producer.await.map_err(|e| e.to_string())?;
    if let Err(error) = written.and(produced) {
        let _ = std::fs::remove_file(&path);
        return Err(error);
    }
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| e.to_string())?;
    // Unlinked at once: the open handle keeps it readable until the response is sent.
    let _ = std::fs::remove_file(&path);
    Ok(Body::from_stream(tokio_util::io::ReaderStream::new(file)))
}

/// Rows per worksheet: a sheet holds at most 1,048,576 rows, the header included.
const ROWS_PER_SHEET: u32 = 1_000_000;

fn write_xlsx(
    path: &std::path::Path,
    header: &[String],
    rows: std::sync::mpsc::Receiver<Vec<String>>,
) -> Result<(), String> {
    use rust_xlsxwriter::Workbook;
    let mut workbook = Workbook::new();
    let mut sheet = workbook.add_worksheet_with_constant_memory();
    let mut row_in_sheet = 0u32;
    let write_header = |sheet: &mut rust_xlsxwriter::Worksheet| -> Result<(), String> {
        for (col, name) in header.iter().enumerate() {
            sheet
                .write_string(0, col as u16, name)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    write_header(sheet)?;
    for row in rows {
        if row_in_sheet == ROWS_PER_SHEET {
            sheet = workbook.add_worksheet_with_constant_memory();
            write_header(sheet)?;
            row_in_sheet = 0;
        }
        row_in_sheet += 1;
        for (col, cell) in row.iter().enumerate() {
            sheet
                .write_string(row_in_sheet, col as u16, safe(cell).as_ref())
                .map_err(|e| e.to_string())?;
        }
    }
    workbook.save(path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_quote_what_needs_it_and_neutralise_formulas() {
        let mut out = String::new();
        csv_line(
            &mut out,
            &[
                "plain".into(),
                "a,b".into(),
                "say \"hi\"".into(),
                "=HYPERLINK(\"x\")".into(),
                "-5".into(),
                "line\nbreak".into(),
            ],
        );
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",-5,\"line\nbreak\"\r\n"
        );
    }
}
