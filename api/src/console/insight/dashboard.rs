//! The dashboard: the month's figures, accounts, the payments waiting, open alerts (live, with
//! acknowledge and snooze), the alert rules (managed by superusers) and a chart of the last 30
//! days.

use crate::console::page::{self, count, money, words, Action, Forms, Section};
use crate::console::{act, ask, chart, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::{self, AppState};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use domain::identity::permission::Permission;
use futures::StreamExt;
use maud::html;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

const QUERY: &str = "query($from: NaiveDate!) { dashboard { today \
    figures(period: MONTH_TO_DATE) { metric currency value } \
    accounts { total byStatus { key count } byPlan { key count } lowCredits } \
    pendingPayments { count totals { currency minorUnits } oldestRecordedAt } \
    openAlerts { critical warning snoozed } \
    projectionLag { maxLagSeconds stuck } \
    consumed: series(metric: CREDITS_CONSUMED, interval: DAY, from: $from) { start value } \
    opened: series(metric: ACCOUNTS_OPENED, interval: DAY, from: $from) { start value } } \
    alerts(filter: { status: [OPEN] }, first: 20) { id ruleName severity message raisedAt acknowledgedAt acknowledgedBy } \
    alertRules { id name severity enabled condition { kind days percent minRuns minCalls seconds activity } } }";

pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Answer {
    // The dashboard is for staff with `insight.read`; everyone else starts where they can look.
    if !Rule::Can(Permission::InsightRead).allows(&visitor.principal) {
        let start = match visitor.principal.confined_to() {
            Some(account) => format!("/accounts/{account}"),
            None if Rule::Can(Permission::AccountsRead).allows(&visitor.principal) => {
                "/accounts".into()
            }
            None if Rule::Can(Permission::BillingRead).allows(&visitor.principal) => {
                "/payments".into()
            }
            None => "/audit".into(),
        };
        return Ok(Redirect::to(&start).into_response());
    }
    let from = (chrono::Utc::now() - chrono::Duration::days(29)).date_naive();
    let data = ask(&state, &visitor, QUERY, json!({ "from": from })).await?;
    let d = &data["dashboard"];
    let figure = |metric: &str| -> Vec<&Value> {
        d["figures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["metric"] == metric)
            .collect()
    };
    let amounts = |metric: &str| -> String {
        let figures = figure(metric);
        if figures.is_empty() {
            return "0".into();
        }
        figures
            .iter()
            .map(|f| match f["currency"].as_str() {
                Some(currency) => money(f["value"].as_i64().unwrap_or(0), currency),
                None => count(f["value"].as_i64().unwrap_or(0)),
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let series = |name: &str| -> Vec<(String, i64)> {
        d[name]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    page::json_cell(&p["start"]),
                    p["value"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    let pending = &d["pendingPayments"];
    let alerts = data["alerts"].as_array().cloned().unwrap_or_default();
    let can_acknowledge = Rule::Can(Permission::InsightRead).allows(&visitor.principal);
    let catalog = act::catalog(&state).await;
    let forms = Forms::new(&visitor, catalog, "/#alerts", &[]);
    let rule_forms = Forms::new(&visitor, catalog, "/#alert-rules", &[]);
    let rules = data["alertRules"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p class="muted" {
            "Figures of the month to " (page::json_cell(&d["today"])) " (UTC). Alerts show here as they are raised, acknowledged or snoozed."
        }
        section class="cards" aria-label="This month" {
            @for (label, metric) in [("Revenue", "REVENUE_PAID"), ("Credits granted", "CREDITS_GRANTED"),
                                      ("Credits purchased", "CREDITS_PURCHASED"), ("Credits consumed", "CREDITS_CONSUMED"),
                                      ("AI calls", "AI_CALLS"), ("AI cost", "AI_COST"),
                                      ("Automations failed", "AUTOMATIONS_FAILED"), ("Syncs failed", "SYNCS_FAILED")] {
                div class="card" { div class="label" { (label) } div class="figure" { (amounts(metric)) } }
            }
            div class="card" {
                div class="label" { "Payments waiting" }
                div class="figure" { a href="/payments?status=PENDING" { (count(pending["count"].as_i64().unwrap_or(0))) } }
                @for total in pending["totals"].as_array().into_iter().flatten() {
                    div class="muted" { (money(total["minorUnits"].as_i64().unwrap_or(0), total["currency"].as_str().unwrap_or(""))) }
                }
            }
            div class="card" {
                div class="label" { "Accounts" }
                div class="figure" { a href="/accounts" { (count(d["accounts"]["total"].as_i64().unwrap_or(0))) } }
                div class="muted" { (count(d["accounts"]["lowCredits"].as_i64().unwrap_or(0))) " low on credits" }
            }
            div class="card" {
                div class="label" { "Open alerts" }
                div class="figure" {
                    span class="severity-critical" { (d["openAlerts"]["critical"]) } " critical · "
                    span class="severity-warning" { (d["openAlerts"]["warning"]) } " warning"
                }
                div class="muted" { (d["openAlerts"]["snoozed"]) " snoozed" }
            }
            div class="card" {
                div class="label" { "Projection lag" }
                div class="figure" { (format!("{:.1}", d["projectionLag"]["maxLagSeconds"].as_f64().unwrap_or(0.0))) " s" }
                div class="muted" { (d["projectionLag"]["stuck"]) " stuck" }
            }
        }
        h2 { "Last 30 days" }
        (chart::bars("Credits consumed per day", &series("consumed")))
        (chart::bars("Accounts opened per day", &series("opened")))
        h2 { "Accounts by status and plan" }
        table {
            thead { tr { th { "Status" } th class="num" { "Accounts" } th { "Plan" } th class="num" { "Accounts" } } }
            tbody {
                @let by_status = d["accounts"]["byStatus"].as_array().cloned().unwrap_or_default();
                @let by_plan = d["accounts"]["byPlan"].as_array().cloned().unwrap_or_default();
                @for i in 0..by_status.len().max(by_plan.len()) {
                    tr {
                        td { @if let Some(s) = by_status.get(i) { (words(&page::json_cell(&s["key"]))) } }
                        td class="num" { @if let Some(s) = by_status.get(i) { (s["count"]) } }
                        td { @if let Some(p) = by_plan.get(i) { (words(&page::json_cell(&p["key"]))) } }
                        td class="num" { @if let Some(p) = by_plan.get(i) { (p["count"]) } }
                    }
                }
            }
        }
        section id="alerts" data-live="/live/alerts" aria-live="polite" {
        h2 { "Open alerts" }
        @if alerts.is_empty() {
            p class="muted" { "No alert is open." }
        } @else {
            table {
                thead { tr { th { "Severity" } th { "Rule" } th { "What" } th { "Raised" } th { "Acknowledged" } } }
                tbody {
                    @for alert in &alerts {
                        @let id = page::json_cell(&alert["id"]);
                        tr {
                            td class={ "severity-" (page::json_cell(&alert["severity"]).to_lowercase()) } { (words(&page::json_cell(&alert["severity"]))) }
                            td { (page::json_cell(&alert["ruleName"])) }
                            td { (page::json_cell(&alert["message"])) }
                            td { (page::when(&page::json_cell(&alert["raisedAt"]))) }
                            td {
                                @if alert["acknowledgedAt"].is_string() {
                                    (page::when(&page::json_cell(&alert["acknowledgedAt"]))) " by " (page::json_cell(&alert["acknowledgedBy"]))
                                } @else if can_acknowledge {
                                    (Action { visitor: &visitor, mutation: "acknowledgeAlert", key: format!("acknowledgeAlert:{id}"),
                                              back: "/#alerts", button: "Acknowledge", confirm: None, done: "Alert acknowledged." }
                                        .render(html! { input type="hidden" name="id" value=(id); }))
                                    (forms.given(&[("id", id.as_str())]).offer("snoozeAlert", "Snooze", "Alert snoozed."))
                                }
                            }
                        }
                    }
                }
            }
        }
        }
        h2 id="alert-rules" { "Alert rules" }
        (page::table("alert-rules", &rules, &[
            ("Rule", &|r| html! { (page::field(r, "name")) }),
            ("Severity", &|r| html! { span class={ "severity-" (page::field(r, "severity").to_lowercase()) } { (words(&page::field(r, "severity"))) } }),
            ("When", &|r| html! {
                (words(&page::field(&r["condition"], "kind")))
                @for (name, value) in r["condition"].as_object().into_iter().flatten() {
                    @if name != "kind" && !value.is_null() { " · " (name) " " (page::json_cell(value)) }
                }
            }),
            ("Enabled", &|r| html! { (if r["enabled"] == true { "yes" } else { "no" }) }),
            ("", &|r| {
                let id = page::field(r, "id");
                let given = [("id", id.as_str())];
                let forms = rule_forms.given(&given);
                html! {
                    div class="actions" {
                        @if r["enabled"] == true {
                            (forms.confirming("disableAlertRule", "Disable", "Rule disabled.", "Disable this rule? It raises nothing until enabled."))
                        } @else {
                            (forms.offer("enableAlertRule", "Enable", "Rule enabled."))
                        }
                        (forms.offer("changeAlertRule", "Change", "Rule changed."))
                    }
                }
            }),
        ]))
        (rule_forms.offer("defineAlertRule", "Define a rule", "Rule defined."))
    };
    Ok(page::page(&visitor, "Dashboard", Section::Dashboard, body))
}

/// How long one live stream runs before the browser reconnects: each reconnection is a page
/// request, so a session that ended or a token that was revoked stops the stream within it.
const LIVE_FOR: Duration = Duration::from_secs(120);

/// `GET /live/alerts`: the alerts that change, as server-sent events, for the dashboard's
/// script to refresh its alerts (the page works without it, and reloads each minute then).
pub async fn live_alerts(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    visitor: Visitor,
) -> Answer {
    visitor.require(Rule::Can(Permission::InsightRead), "the alerts")?;
    let request = async_graphql::Request::new(
        "subscription { alertChanges { id status severity ruleName } }",
    );
    let changes = http::stream_as(
        &state,
        visitor.principal.clone(),
        Some(peer.ip().to_string()),
        request,
    )
    .map(|response| {
        let data = response.data.into_json().unwrap_or_default();
        Ok::<_, Infallible>(Event::default().event("alert").data(data.to_string()))
    })
    .take_until(tokio::time::sleep(LIVE_FOR));
    let mut answer = Sse::new(changes)
        .keep_alive(KeepAlive::default())
        .into_response();
    answer
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(answer)
}
