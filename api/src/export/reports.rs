//! Exports of the reports:
//!
//! `GET /export/reports/<report>?format=csv|xlsx&args=<the report's GraphQL arguments, as JSON>`
//!
//! for `revenue`, `credit-usage`, `content` and `data-quality`, e.g.
//! `/export/reports/credit-usage?format=csv&args={"from":"2026-01-01","to":"2026-12-31","groupBy":["ACCOUNT"]}`.
//! The report is run as the GraphQL query it is, by the caller: the same guards, the same
//! validation and error codes, the same rows in the same order. Reports are small (at most a
//! thousand groups), so the answer is read whole and then written out.

use super::{refuse, status_of, stream, Format};
use crate::error::ApiError;
use crate::http::{reader_of, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportParams {
    format: Format,
    /// The report field's arguments as JSON, e.g. `{"from":"2026-01-01","to":"2026-01-31"}`.
    args: Option<String>,
}

/// One report as GraphQL runs it: its query (taking the report's arguments as variables), the
/// field of the answer holding its rows, and the rows' fields, which are the file's columns.
struct ReportExport {
    name: &'static str,
    query: &'static str,
    rows: &'static str,
    columns: &'static [&'static str],
}

const REPORTS: &[ReportExport] = &[
    ReportExport {
        name: "revenue",
        query: "query($from: NaiveDate!, $to: NaiveDate!, $filter: RevenueFilter) { \
                report: revenue(from: $from, to: $to, filter: $filter) { facts { \
                day planCode method currency paidMinor payments refundedMinor refunds netMinor } } }",
        rows: "facts",
        columns: &[
            "day",
            "planCode",
            "method",
            "currency",
            "paidMinor",
            "payments",
            "refundedMinor",
            "refunds",
            "netMinor",
        ],
    },
    ReportExport {
        name: "credit-usage",
        query: "query($from: NaiveDate!, $to: NaiveDate!, $groupBy: [UsageDimension!], \
                $interval: Interval, $accountId: ID, $limit: Int) { \
                report: creditUsageReport(from: $from, to: $to, groupBy: $groupBy, \
                interval: $interval, accountId: $accountId, limit: $limit) { rows { \
                period accountId accountName operation model credits units uses } } }",
        rows: "rows",
        columns: &[
            "period",
            "accountId",
            "accountName",
            "operation",
            "model",
            "credits",
            "units",
            "uses",
        ],
    },
    ReportExport {
        name: "content",
        query: "query($from: NaiveDate!, $to: NaiveDate!, $groupBy: [ContentDimension!], \
                $interval: Interval, $accountId: ID, $limit: Int) { \
                report: contentReport(from: $from, to: $to, groupBy: $groupBy, \
                interval: $interval, accountId: $accountId, limit: $limit) { rows { \
                period accountId accountName contentType status items words } } }",
        rows: "rows",
        columns: &[
            "period",
            "accountId",
            "accountName",
            "contentType",
            "status",
            "items",
            "words",
        ],
    },
    ReportExport {
        name: "data-quality",
        query: "query($checks: [DataQualityCheckKind!], $sample: Int) { \
                report: dataQualityReport(checks: $checks, sample: $sample) { checks { \
                check description subject count sample } } }",
        rows: "checks",
        columns: &["check", "description", "subject", "count", "sample"],
    },
];

pub async fn report(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Response {
    let Some(report) = REPORTS.iter().find(|r| r.name == name) else {
        let names: Vec<&str> = REPORTS.iter().map(|r| r.name).collect();
        return refuse(
            StatusCode::NOT_FOUND,
            ApiError::not_found(format!(
                "no report `{name}`; the reports are {}",
                names.join(", ")
            )),
        );
    };
    let principal = match reader_of(&state, &headers).await {
        Ok(principal) => principal,
        Err((refused, _)) => return refused,
    };
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ApiError::validation(format!(
                    "the export's parameters are not valid: {}",
                    rejection.body_text()
                )),
            )
        }
    };
    let args = match params.args.as_deref().map(serde_json::from_str::<Value>) {
        None => Value::Object(Default::default()),
        Some(Ok(args @ Value::Object(_))) => args,
        Some(Ok(_)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ApiError::validation("`args` must be a JSON object of the report's arguments"),
            )
        }
        Some(Err(error)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ApiError::validation(format!("`args` is not JSON: {error}")),
            )
        }
    };
    if let Some(unknown) = args
        .as_object()
        .into_iter()
        .flat_map(|args| args.keys())
        .find(|key| !report.query.contains(&format!("${key}:")))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            ApiError::validation(format!(
                "the {} report takes no argument `{unknown}`",
                report.name
            )),
        );
    }
    let request = async_graphql::Request::new(report.query)
        .variables(async_graphql::Variables::from_json(args));
    let response = crate::http::execute_as(&state, principal, None, request).await;
    if let Some(error) = response.errors.first() {
        let code = crate::http::code_of(error);
        return refuse(status_of(code), ApiError::new(code, error.message.clone()));
    }
    let rows = response
        .data
        .into_json()
        .ok()
        .and_then(|mut data| match data["report"][report.rows].take() {
            Value::Array(rows) => Some(rows),
            _ => None,
        })
        .unwrap_or_default();
    let columns = report.columns;
    let produce = move |out: mpsc::Sender<Vec<String>>| async move {
        for row in rows {
            let cells = columns.iter().map(|c| cell(&row[*c])).collect();
            if out.send(cells).await.is_err() {
                break;
            }
        }
        Ok(())
    };
    stream(params.format, report.name, columns, produce).await
}

/// A value as a cell: text as it is, null empty, a list's items separated by spaces.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}
