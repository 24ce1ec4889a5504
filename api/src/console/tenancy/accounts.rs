//! The account list (filters, search, sort, pages, health, bulk actions, exports) and one
//! account's page (balance, ledger, payments, prompts, health with reasons, and its history
//! as a timeline with an "as of" control).

use crate::console::audit::timeline;
use crate::console::page::{
    self, count, json_cell, money, text_field, when, words, Action, Forms, Section,
};
use crate::console::{act, ask, encode, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use domain::identity::permission::Permission;
use maud::{html, Markup};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

const LIST: &str = "query($after: String, $filter: AccountFilter, $sort: AccountSort) { \
    accounts(first: 25, after: $after, filter: $filter, sort: $sort) { totalCount \
    pageInfo { hasNextPage endCursor } \
    nodes { id name slug ownerEmail plan status balance createdAt lastActivityAt health { score status } } } }";

const STATUSES: [&str; 3] = ["ACTIVE", "SUSPENDED", "DELETED"];
const PLANS: [&str; 4] = ["FREE", "STARTER", "GROWTH", "SCALE"];
const HEALTH: [&str; 3] = ["HEALTHY", "AT_RISK", "CRITICAL"];
const ACTIONS: [(&str, &str); 4] = [
    ("SUSPEND", "Suspend"),
    ("ACTIVATE", "Activate"),
    ("DELETE", "Delete"),
    ("RESTORE", "Restore"),
];
const SORTS: [(&str, &str); 4] = [
    ("CREATED_AT", "Newest"),
    ("NAME", "Name"),
    ("BALANCE", "Balance"),
    ("LAST_ACTIVITY", "Last activity"),
];

pub async fn list(State(state): State<AppState>, visitor: Visitor, params: Params) -> Answer {
    if let Some(account) = visitor.principal.confined_to() {
        return Ok(axum::response::Redirect::to(&format!("/accounts/{account}")).into_response());
    }
    visitor.require(Rule::Can(Permission::AccountsRead), "accounts")?;
    let mut filter = Map::new();
    for (field, key) in [("status", "status"), ("plan", "plan"), ("health", "health")] {
        let values = params.all(key);
        if !values.is_empty() {
            filter.insert(field.into(), json!(values));
        }
    }
    if let Some(search) = params.one("search") {
        filter.insert("search".into(), json!(search));
    }
    let sort = params.one("sort").unwrap_or_else(|| "CREATED_AT".into());
    let direction = params.one("direction").unwrap_or_else(|| "DESC".into());
    let variables = json!({
        "after": params.one("after"),
        "filter": filter,
        "sort": { "field": sort, "direction": direction },
    });
    let data = ask(&state, &visitor, LIST, variables).await?;
    let accounts = &data["accounts"];
    let nodes = accounts["nodes"].as_array().cloned().unwrap_or_default();
    // The page's own address without its cursor, for the pager, the exports and the forms.
    let base = params.base("/accounts");
    let export_filter = encode(&Value::Object(filter.clone()).to_string());
    let can_bulk = Rule::Can(Permission::AccountsWrite).allows(&visitor.principal);
    let selected = |key: &str, value: &str| params.all(key).iter().any(|v| v == value);
    let catalog = act::catalog(&state).await;
    let table = html! {
        table {
            thead {
                tr {
                    @if can_bulk { th { input type="checkbox" data-select-all aria-label="Select every account on this page"; } }
                    th { "Account" } th { "Owner" } th { "Plan" } th { "Status" } th class="num" { "Balance" }
                    th { "Health" } th { "Opened" } th { "Last activity" }
                }
            }
            tbody {
                @for account in &nodes {
                    @let id = json_cell(&account["id"]);
                    tr {
                        @if can_bulk { td { input type="checkbox" name="ids" value=(id) aria-label={ "Select " (json_cell(&account["name"])) }; } }
                        td { a href={ "/accounts/" (id) } { (json_cell(&account["name"])) } br; span class="muted" { (json_cell(&account["slug"])) } }
                        td { (json_cell(&account["ownerEmail"])) }
                        td { (words(&json_cell(&account["plan"]))) }
                        td { (words(&json_cell(&account["status"]))) }
                        td class="num" { (count(account["balance"].as_i64().unwrap_or(0))) }
                        td {
                            @if account["health"].is_object() {
                                span class={ "status-" (json_cell(&account["health"]["status"]).to_lowercase()) } {
                                    (words(&json_cell(&account["health"]["status"]))) " (" (account["health"]["score"]) ")"
                                }
                            }
                        }
                        td { (when(&json_cell(&account["createdAt"]))) }
                        td { (when(&json_cell(&account["lastActivityAt"]))) }
                    }
                }
            }
        }
    };
    let body = html! {
        form method="get" action="/accounts" class="filters" role="search" {
            label class="field" { span { "Search" } input type="search" name="search" value=[params.one("search")] placeholder="name, slug or owner"; }
            (choice("status", "Status", &STATUSES, &selected))
            (choice("plan", "Plan", &PLANS, &selected))
            (choice("health", "Health", &HEALTH, &selected))
            label class="field" {
                span { "Sort by" }
                select name="sort" {
                    @for (value, label) in SORTS { option value=(value) selected[sort == value] { (label) } }
                }
            }
            label class="field" {
                span { "Order" }
                select name="direction" {
                    option value="DESC" selected[direction == "DESC"] { "Descending" }
                    option value="ASC" selected[direction == "ASC"] { "Ascending" }
                }
            }
            button type="submit" { "Apply" }
            a href="/accounts" { "Clear" }
        }
        (Forms::new(&visitor, catalog, "/accounts", &[]).offer("openAccount", "Open an account", "Account opened."))
        p {
            strong { (count(accounts["totalCount"].as_i64().unwrap_or(0))) } " accounts. Export them: "
            a href={ "/export/accounts?format=csv&filter=" (export_filter) } download { "CSV" } " · "
            a href={ "/export/accounts?format=xlsx&filter=" (export_filter) } download { "XLSX" }
        }
        @if can_bulk {
            (page::bulk(&visitor, "bulkAccountAction", &base, "account", &ACTIONS, table))
        } @else {
            (table)
        }
        (page::pager(&base, &accounts["pageInfo"]))
    };
    Ok(page::page(&visitor, "Accounts", Section::Accounts, body))
}

/// A multiple choice among an enum's values, as a list box.
fn choice(
    name: &str,
    label: &str,
    values: &[&str],
    selected: &dyn Fn(&str, &str) -> bool,
) -> Markup {
    html! {
        label class="field" {
            span { (label) }
            select name=(name) multiple size=(values.len().min(4)) {
                @for value in values { option value=(value) selected[selected(name, value)] { (words(value)) } }
            }
        }
    }
}

/// One account and what hangs off it, each part asked only of those who may read it.
static ONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "query($id: ID!, {timeline}, $billing: Boolean!, $prompts: Boolean!, $users: Boolean!) {{ \
        account(id: $id) {{ id name slug ownerEmail plan status balance createdAt lastActivityAt \
          subscription @include(if: $billing) {{ id status planName periodEnd }} \
          health {{ score status reasons {{ signal severity penalty message }} }} {history} }} \
        creditLedger(first: 20, filter: {{ accountId: $id }}) @include(if: $billing) {{ nodes {{ position kind amount balanceAfter reason actorId occurredAt }} }} \
        payments(first: 20, filter: {{ accountId: $id }}) @include(if: $billing) {{ nodes {{ id amountMinor currency credits method status recordedAt }} }} \
        invoices(first: 10, filter: {{ accountId: $id }}) @include(if: $billing) {{ nodes {{ id number status totalMinor currency dueAt overdue }} }} \
        platformUsers(first: 50, filter: {{ accountId: $id }}) @include(if: $users) {{ nodes {{ name email role status }} }} \
        accountAiSettings(accountId: $id) @include(if: $prompts) {{ plan overridesAllowed \
          providers {{ provider overridesSuspended settings {{ setting value source }} }} }} \
        accountPrompts(accountId: $id) @include(if: $prompts) {{ promptType text source version publishedVersion behindDefault }} }}",
        timeline = timeline::VARIABLES,
        history = timeline::FIELDS,
    )
});

pub async fn one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    params: Params,
) -> Answer {
    let principal = &visitor.principal;
    let mut variables = timeline::variables(&id, &params, principal);
    variables.insert(
        "billing".into(),
        json!(Rule::Scoped(Permission::BillingRead).allows(principal)),
    );
    variables.insert(
        "prompts".into(),
        json!(Rule::Scoped(Permission::AccountsRead).allows(principal)),
    );
    variables.insert(
        "users".into(),
        json!(Rule::Scoped(Permission::UsersRead).allows(principal)),
    );
    let data =
        timeline::ask_record(&state, &visitor, &ONE, variables, "account", "account").await?;
    let account = &data["account"];
    let id = json_cell(&account["id"]);
    let back = format!("/accounts/{id}");
    let can = |rule: Rule| rule.allows(principal);
    let catalog = act::catalog(&state).await;
    let given = [("accountId", id.as_str())];
    let forms = Forms::new(&visitor, catalog, &back, &given);
    let deleted = account["status"] == "DELETED";
    let actions = html! {
        (forms.offer("renameAccount", "Rename", "Account renamed."))
        (forms.offer("changeAccountPlan", "Change the plan", "Plan changed."))
        (forms.offer("recordPayment", "Record a payment", "Payment recorded; it waits for approval."))
        @if account["subscription"].is_null() {
            (forms.offer("startSubscription", "Start a subscription", "Subscription started."))
        }
        (forms.offer("draftInvoice", "Draft an invoice", "Invoice drafted."))
        (forms.offer("addPlatformUser", "Add a person", "Person added."))
        (forms.offer("overrideAiSettings", "Override AI settings", "AI settings overridden."))
        (forms.offer("resetAiSettings", "Reset AI settings to the defaults", "AI settings reset."))
        @if deleted {
            (forms.offer("restoreAccount", "Restore", "Account restored."))
        } @else {
            (forms.confirming("deleteAccount", "Delete", "Account deleted.",
                              "Delete this account? Its people lose access until it is restored."))
        }
    };
    let history = timeline::timeline(&state, &visitor, account, "account", &back, &params).await;
    let body = html! {
        dl class="facts" {
            dt { "Balance" } dd { strong id="balance" { (count(account["balance"].as_i64().unwrap_or(0))) } " credits" }
            dt { "Status" } dd { (words(&json_cell(&account["status"]))) }
            dt { "Plan" } dd { (words(&json_cell(&account["plan"]))) }
            dt { "Owner" } dd { (json_cell(&account["ownerEmail"])) }
            dt { "Slug" } dd { (json_cell(&account["slug"])) }
            dt { "Opened" } dd { (when(&json_cell(&account["createdAt"]))) }
            @if !account["subscription"].is_null() || data["creditLedger"].is_object() {
            dt { "Subscription" } dd {
                @if account["subscription"].is_object() {
                    (json_cell(&account["subscription"]["planName"])) ", " (words(&json_cell(&account["subscription"]["status"])))
                    ", period ends " (when(&json_cell(&account["subscription"]["periodEnd"])))
                } @else { "none" }
            }
            }
            @if account["health"].is_object() {
                dt { "Health" }
                dd {
                    span class={ "status-" (json_cell(&account["health"]["status"]).to_lowercase()) } {
                        (words(&json_cell(&account["health"]["status"]))) " (" (account["health"]["score"]) " of 100)"
                    }
                    ul {
                        @for reason in account["health"]["reasons"].as_array().into_iter().flatten() {
                            li { (json_cell(&reason["message"])) " (−" (reason["penalty"]) ")" }
                        }
                    }
                }
            }
        }
        @if can(Rule::Can(Permission::CreditsAdjust)) {
            h2 { "Adjust credits" }
            (Action { visitor: &visitor, mutation: "adjustCredits", key: "adjustCredits".into(), back: &back,
                      button: "Adjust", confirm: None, done: "Credits adjusted." }
                .render(html! {
                    input type="hidden" name="accountId" value=(id);
                    label class="field" { span { "Credits (negative to deduct)" } input type="number" name="amount" required; }
                    (text_field("reason", "Reason", true))
                }))
        }
        @if can(Rule::Can(Permission::AccountsWrite)) {
            h2 { "Status" }
            @if account["status"] == "ACTIVE" {
                (Action { visitor: &visitor, mutation: "suspendAccount", key: "suspendAccount".into(), back: &back,
                          button: "Suspend", confirm: Some("Suspend this account?"), done: "Account suspended." }
                    .render(html! { input type="hidden" name="accountId" value=(id); (text_field("reason", "Reason", true)) }))
            } @else if account["status"] == "SUSPENDED" {
                (Action { visitor: &visitor, mutation: "activateAccount", key: "activateAccount".into(), back: &back,
                          button: "Activate", confirm: None, done: "Account activated." }
                    .render(html! { input type="hidden" name="accountId" value=(id); }))
            }
        }
        @if !actions.0.is_empty() {
            h2 { "Actions" }
            div class="actions" { (actions) }
        }
        @if data["creditLedger"].is_object() {
        h2 { "Credit ledger" }
        p { a href={ "/export/credit-ledger?format=csv&filter=" (encode(&json!({ "accountId": id }).to_string())) } download { "Export as CSV" } }
        table id="ledger" {
            thead { tr { th class="num" { "Position" } th { "When" } th { "Kind" } th class="num" { "Amount" } th class="num" { "Balance after" } th { "Reason" } th { "By" } } }
            tbody {
                @for entry in data["creditLedger"]["nodes"].as_array().into_iter().flatten() {
                    tr {
                        td class="num" { (entry["position"]) }
                        td { (when(&json_cell(&entry["occurredAt"]))) }
                        td { (words(&json_cell(&entry["kind"]))) }
                        td class="num" { (count(entry["amount"].as_i64().unwrap_or(0))) }
                        td class="num" { (count(entry["balanceAfter"].as_i64().unwrap_or(0))) }
                        td { (entry["reason"].as_str().unwrap_or("")) }
                        td { (json_cell(&entry["actorId"])) }
                    }
                }
            }
        }
        }
        @if let Some(payments) = data["payments"]["nodes"].as_array() {
            h2 { "Payments" }
            table {
                thead { tr { th { "Recorded" } th class="num" { "Amount" } th class="num" { "Credits" } th { "Method" } th { "Status" } } }
                tbody {
                    @for payment in payments {
                        tr {
                            td { (when(&json_cell(&payment["recordedAt"]))) }
                            td class="num" { (money(payment["amountMinor"].as_i64().unwrap_or(0), payment["currency"].as_str().unwrap_or(""))) }
                            td class="num" { (count(payment["credits"].as_i64().unwrap_or(0))) }
                            td { (words(&json_cell(&payment["method"]))) }
                            td { (words(&json_cell(&payment["status"]))) }
                        }
                    }
                }
            }
        }
        @if let Some(prompts) = data["accountPrompts"].as_array() {
            h2 { "Prompts" }
            table id="prompts" {
                thead { tr { th { "Type" } th { "Source" } th class="num" { "Version" } th { "" } } }
                tbody {
                    @for prompt in prompts {
                        @let kind = json_cell(&prompt["promptType"]);
                        tr {
                            td { (kind) }
                            td { (words(&json_cell(&prompt["source"])))
                                 @if prompt["behindDefault"] == true { " (the default has moved on to version " (prompt["publishedVersion"]) ")" } }
                            td class="num" { (prompt["version"]) }
                            td {
                                @if can(Rule::Scoped(Permission::PromptsWrite)) {
                                    details {
                                        summary { "Customize" }
                                        (Action { visitor: &visitor, mutation: "customizePrompt", key: format!("customizePrompt:{kind}"),
                                                  back: &back, button: "Save customization", confirm: None, done: "Prompt customized." }
                                            .render(html! {
                                                input type="hidden" name="accountId" value=(id);
                                                input type="hidden" name="promptType" value=(kind);
                                                label class="field" { span { "Text" } textarea name="text" rows="6" cols="70" required { (json_cell(&prompt["text"])) } }
                                                (text_field("reason", "Reason", true))
                                            }))
                                    }
                                }
                                @if prompt["source"] == "ACCOUNT_CUSTOMIZATION" && can(Rule::Scoped(Permission::PromptsWrite)) {
                                    (Action { visitor: &visitor, mutation: "resetPromptToDefault", key: format!("resetPromptToDefault:{kind}"),
                                              back: &back, button: "Reset to default", confirm: Some("Drop this account's customization and follow the published default?"),
                                              done: "Prompt reset to the default." }
                                        .render(html! {
                                            input type="hidden" name="accountId" value=(id);
                                            input type="hidden" name="promptType" value=(kind);
                                            (text_field("reason", "Reason", true))
                                        }))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(invoices) = data["invoices"]["nodes"].as_array() {
            h2 { "Invoices" }
            (page::table("account-invoices", invoices, &[
                ("Number", &|i| html! { (json_cell(&i["number"])) }),
                ("Status", &|i| html! { (words(&json_cell(&i["status"]))) @if i["overdue"] == true { " " span class="severity-critical" { "overdue" } } }),
                ("Total", &|i| html! { (money(i["totalMinor"].as_i64().unwrap_or(0), i["currency"].as_str().unwrap_or(""))) }),
                ("Due", &|i| html! { (when(&json_cell(&i["dueAt"]))) }),
            ]))
        }
        @if let Some(users) = data["platformUsers"]["nodes"].as_array() {
            h2 { "People" }
            (page::table("account-users", users, &[
                ("Person", &|u| html! { (json_cell(&u["name"])) br; span class="muted" { (json_cell(&u["email"])) } }),
                ("Role", &|u| html! { (words(&json_cell(&u["role"]))) }),
                ("Status", &|u| html! { (words(&json_cell(&u["status"]))) }),
            ]))
        }
        @if data["accountAiSettings"].is_object() {
            @let settings = &data["accountAiSettings"];
            h2 { "AI settings in force" }
            p class="muted" {
                "Plan " (json_cell(&settings["plan"])) ": "
                (if settings["overridesAllowed"] == true { "the account may override models and parameters (never keys)." } else { "overrides are not allowed on this plan." })
            }
            (page::table("account-ai-settings", settings["providers"].as_array().map(Vec::as_slice).unwrap_or_default(), &[
                ("Provider", &|p| html! { (json_cell(&p["provider"])) @if p["overridesSuspended"] == true { " (overrides suspended by the plan)" } }),
                ("Settings", &|p| html! {
                    @for setting in p["settings"].as_array().into_iter().flatten() {
                        code { (json_cell(&setting["setting"])) } " " (json_cell(&setting["value"]))
                        " " span class="muted" { "(" (words(&json_cell(&setting["source"]))) ")" } br;
                    }
                }),
            ]))
        }
        (history)
    };
    Ok(page::page(
        &visitor,
        &json_cell(&account["name"]),
        Section::Accounts,
        body,
    ))
}
