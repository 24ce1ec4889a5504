//! The console's page frame and the pieces every page is made of: navigation by what the
//! visitor may do, the message of the last action, action forms, money and times.
//!
//! Pages are HTML rendered here (maud escapes every value), readable without JavaScript; the
//! little script the console serves only asks for confirmations and refreshes running jobs.
//! No inline script or style: the Content-Security-Policy allows this server's files only.

use super::act::Catalog;
use super::session::{sign_in_form, Flash, Visitor};
use crate::graphql::Rule;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::identity::permission::Permission;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;
use std::sync::atomic::Ordering;

pub const STYLE: &str = include_str!("assets/console.css");
pub const SCRIPT: &str = include_str!("assets/console.js");

/// Where a page sits in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Accounts,
    Payments,
    Invoices,
    Subscriptions,
    Plans,
    Prompts,
    Templates,
    Settings,
    Staff,
    Users,
    Audit,
    System,
    None,
}

/// The navigation: each section with the rule of the query its page reads, so a visitor is
/// offered only the pages they may see.
const NAV: [(Section, &str, &str, Rule); 13] = [
    (
        Section::Dashboard,
        "/",
        "Dashboard",
        Rule::Can(Permission::InsightRead),
    ),
    (
        Section::Accounts,
        "/accounts",
        "Accounts",
        Rule::Can(Permission::AccountsRead),
    ),
    (
        Section::Payments,
        "/payments",
        "Payments",
        Rule::Scoped(Permission::BillingRead),
    ),
    (
        Section::Invoices,
        "/invoices",
        "Invoices",
        Rule::Scoped(Permission::BillingRead),
    ),
    (
        Section::Subscriptions,
        "/subscriptions",
        "Subscriptions",
        Rule::Scoped(Permission::BillingRead),
    ),
    (
        Section::Plans,
        "/plans",
        "Plans",
        Rule::Scoped(Permission::BillingRead),
    ),
    (
        Section::Prompts,
        "/prompts",
        "Prompts",
        Rule::Scoped(Permission::AccountsRead),
    ),
    (
        Section::Templates,
        "/templates",
        "Templates",
        Rule::Scoped(Permission::AccountsRead),
    ),
    (
        Section::Settings,
        "/settings/ai",
        "AI settings",
        Rule::Staff,
    ),
    (
        Section::Users,
        "/users",
        "People",
        Rule::Scoped(Permission::UsersRead),
    ),
    (
        Section::Staff,
        "/staff",
        "Staff",
        Rule::Can(Permission::OperatorsRead),
    ),
    (
        Section::Audit,
        "/audit",
        "Audit trail",
        Rule::Can(Permission::AuditRead),
    ),
    (Section::System, "/system", "System", Rule::Staff),
];

/// A whole page for a signed-in visitor.
pub fn page(visitor: &Visitor, title: &str, section: Section, body: Markup) -> Response {
    let principal = &visitor.principal;
    let own_account = principal.confined_to();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · igny8 admin" }
                link rel="stylesheet" href="/console/console.css";
                script src="/console/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "igny8 admin" }
                    nav aria-label="Sections" {
                        ul {
                            @for (section_of, href, label, rule) in NAV {
                                @if rule.allows(principal) {
                                    li { a href=(href) aria-current=[(section_of == section).then_some("page")] { (label) } }
                                }
                            }
                            @if let Some(account) = own_account {
                                li { a href={ "/accounts/" (account) } aria-current=[(section == Section::Accounts).then_some("page")] { "My account" } }
                            }
                        }
                    }
                    form method="post" action="/sign-out" class="who" {
                        span { (principal.display_name) " · " (role_of(visitor)) }
                        input type="hidden" name="_csrf" value=(visitor.csrf);
                        button type="submit" class="link" { "Sign out" }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    @if let Some(flash) = visitor.flash.as_ref().filter(|_| !visitor.flash_shown.load(Ordering::Relaxed)) {
                        p class=(if flash.refused { "flash refused" } else { "flash done" }) role="status" {
                            (flash.text)
                            @if let Some(code) = &flash.code { " " code { (code) } }
                        }
                    }
                    (body)
                }
            }
        }
    };
    respond(StatusCode::OK, markup)
}

fn role_of(visitor: &Visitor) -> String {
    let principal = &visitor.principal;
    match &principal.account {
        Some(scope) => format!("account {}", scope.role),
        None if principal.superuser => "superuser".into(),
        None => "staff".into(),
    }
}

/// The sign-in page, with a notice (why the last session ended) or the refusal of a token.
pub fn sign_in(next: Option<&str>, notice: Option<&str>, refused: Option<&str>) -> Response {
    let markup = bare(
        "Sign in",
        html! {
            @if let Some(notice) = notice { p class="flash done" role="status" { (notice) } }
            @if let Some(refused) = refused { p class="flash refused" role="alert" { (refused) } }
            p { "Sign in with the API token you were given (an operator's or an account user's). \
                 The token is checked and exchanged for a session; it is not kept in your browser." }
            (sign_in_form(next))
        },
    );
    respond(StatusCode::OK, markup)
}

/// A page that says why something was refused, for a visitor or not.
pub fn refusal(status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        _ => "Something is wrong",
    };
    let markup = bare(
        title,
        html! {
            p class="flash refused" role="alert" { (message) }
            p { a href="/" { "Back to the console" } }
        },
    );
    respond(status, markup)
}

/// A page without navigation (signed out, or refused before the visitor is known).
fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · igny8 admin" }
                link rel="stylesheet" href="/console/console.css";
            }
            body class="bare" {
                main id="main" { h1 { (title) } (body) }
            }
        }
    }
}

/// A page as an answer, with the headers every console page carries: nothing cached (pages
/// hold account data), nothing framed, nothing loaded from elsewhere.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A form that runs one mutation (`/act`), with its hidden fields: the CSRF value, the
/// mutation, the page to come back to and the form's key (so a refusal is shown beside this
/// form and not another). `confirm`: the question asked before a destructive action.
pub struct Action<'a> {
    pub visitor: &'a Visitor,
    pub mutation: &'a str,
    /// Identifies this form on its page, e.g. `approvePayment:<id>`.
    pub key: String,
    pub back: &'a str,
    pub button: &'a str,
    pub confirm: Option<&'a str>,
    /// Said on the next page when it succeeds.
    pub done: &'a str,
}

impl<'a> Action<'a> {
    /// The form of `mutation` on page `back`, keyed by the mutation, without a question; none
    /// when the visitor may not run it.
    fn offer(
        visitor: &'a Visitor,
        mutation: &'a str,
        back: &'a str,
        button: &'a str,
        done: &'a str,
    ) -> Option<Self> {
        super::act::rule_of(mutation)
            .filter(|rule| rule.allows(&visitor.principal))
            .map(|_| Self::new(visitor, mutation, back, button, done))
    }

    fn new(
        visitor: &'a Visitor,
        mutation: &'a str,
        back: &'a str,
        button: &'a str,
        done: &'a str,
    ) -> Self {
        Self {
            visitor,
            mutation,
            key: mutation.into(),
            back,
            button,
            confirm: None,
            done,
        }
    }

    /// The refusal of this form's last sending, if that is what the page shows.
    fn refusal(&self) -> Option<&'a Flash> {
        self.visitor
            .flash
            .as_ref()
            .filter(|f| f.refused && f.form.as_deref() == Some(self.key.as_str()))
    }

    /// The form folded under `summary` until opened; open after a refusal, so the message
    /// shows beside the fields it is about.
    fn folded(&self, summary: &str, fields: Markup) -> Markup {
        html! {
            details class="form" open[self.refusal().is_some()] {
                summary { (summary) }
                (self.render(fields))
            }
        }
    }

    pub fn render(&self, fields: Markup) -> Markup {
        let flash = self.refusal();
        if flash.is_some() {
            self.visitor.flash_shown.store(true, Ordering::Relaxed);
        }
        html! {
            form method="post" action="/act" class="action" data-confirm=[self.confirm] {
                input type="hidden" name="_csrf" value=(self.visitor.csrf);
                input type="hidden" name="_mutation" value=(self.mutation);
                input type="hidden" name="_back" value=(self.back);
                input type="hidden" name="_form" value=(self.key);
                input type="hidden" name="_done" value=(self.done);
                // The form's own key: sent twice (a double click, a resend), it acts once.
                input type="hidden" name="_key" value=(uuid::Uuid::new_v4());
                (fields)
                button type="submit" { (self.button) }
                @if let Some(flash) = flash {
                    p class="field-error" role="alert" data-field=[flash.field.as_deref()] {
                        (flash.text)
                        @if let Some(code) = &flash.code { " " code { (code) } }
                    }
                }
            }
        }
    }
}

/// The forms of a page, or of one row of it: whom they are for, where they come back to, and
/// the fields the page knows (an account's id), sent hidden.
#[derive(Clone, Copy)]
pub struct Forms<'a> {
    visitor: &'a Visitor,
    catalog: &'a Catalog,
    back: &'a str,
    given: &'a [(&'a str, &'a str)],
}

impl<'a> Forms<'a> {
    pub fn new(
        visitor: &'a Visitor,
        catalog: &'a Catalog,
        back: &'a str,
        given: &'a [(&'a str, &'a str)],
    ) -> Self {
        Self {
            visitor,
            catalog,
            back,
            given,
        }
    }

    /// The same forms for one row, which gives `given`.
    pub fn given(self, given: &'a [(&'a str, &'a str)]) -> Self {
        Self { given, ..self }
    }

    /// The folded form of `mutation` with every field of its input, titled `title`, saying
    /// `done` when it succeeds; nothing when the visitor may not run it.
    pub fn offer(&self, mutation: &'a str, title: &'a str, done: &'a str) -> Markup {
        self.form(mutation, title, done, None)
    }

    /// As [`Self::offer`], asking `question` first: for what cannot simply be undone.
    pub fn confirming(
        &self,
        mutation: &'a str,
        title: &'a str,
        done: &'a str,
        question: &'a str,
    ) -> Markup {
        self.form(mutation, title, done, Some(question))
    }

    fn form(
        &self,
        mutation: &'a str,
        title: &'a str,
        done: &'a str,
        question: Option<&'a str>,
    ) -> Markup {
        let Some(mut action) = Action::offer(self.visitor, mutation, self.back, title, done) else {
            return html! {};
        };
        // Keyed by the row too, so that a refusal shows beside the form that was sent.
        for (_, value) in self.given {
            action.key = format!("{}:{value}", action.key);
        }
        action.confirm = question;
        action.folded(title, self.catalog.controls(mutation, self.given))
    }
}

/// A labelled text input.
pub fn text_field(name: &str, label: &str, required: bool) -> Markup {
    html! {
        label class="field" {
            span { (label) }
            input type="text" name=(name) required[required] autocomplete="off";
        }
    }
}

/// Minor units as money: `12345, "USD"` is `123.45 USD`.
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", group(minor / 100), minor % 100)
}

/// A count with thousands separated: `1234567` is `1,234,567`.
pub fn count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group(n.unsigned_abs()))
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An RFC 3339 time as people read it: `2026-12-07 19:53 UTC`.
pub fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// A `SCREAMING_CASE` value as words: `PAST_DUE` is `past due`.
pub fn words(value: &str) -> String {
    value.to_lowercase().replace('_', " ")
}

/// A JSON value in a cell: text as it is, anything else as compact JSON.
pub fn json_cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The link to a connection's next page: `base` is the page's URL with its other parameters
/// and no cursor.
pub fn pager(base: &str, page_info: &serde_json::Value) -> Markup {
    let next = page_info["hasNextPage"]
        .as_bool()
        .unwrap_or(false)
        .then(|| page_info["endCursor"].as_str())
        .flatten();
    let joiner = if base.contains('?') { '&' } else { '?' };
    html! {
        nav class="pager" aria-label="Pages" {
            a href=(base) { "« First page" }
            @if let Some(cursor) = next {
                a href={ (base) (joiner) "after=" (super::encode(cursor)) } rel="next" { "Next page »" }
            }
        }
    }
}

/// One column of a table: its heading and how a row shows in it.
pub type Column<'a> = (&'a str, &'a dyn Fn(&Value) -> Markup);

/// A table of `rows` (GraphQL nodes), a column per `(heading, cell)`.
pub fn table(id: &str, rows: &[Value], columns: &[Column<'_>]) -> Markup {
    html! {
        table id=(id) {
            thead { tr { @for (heading, _) in columns { th { (heading) } } } }
            tbody {
                @for row in rows { tr { @for (_, cell) in columns { td { (cell(row)) } } } }
                @if rows.is_empty() { tr { td colspan=(columns.len()) class="muted" { "Nothing here." } } }
            }
        }
    }
}

/// A row's field as text.
pub fn field(row: &Value, name: &str) -> String {
    json_cell(&row[name])
}

/// A list's bulk action: a choice of `actions` (value, label) and a reason above the list's
/// `table`, whose rows carry checkboxes named `ids`; answered with the per-item results.
pub fn bulk(
    visitor: &Visitor,
    mutation: &str,
    back: &str,
    noun: &str,
    actions: &[(&str, &str)],
    table: Markup,
) -> Markup {
    let confirm = format!("Apply this action to every selected {noun}?");
    Action {
        visitor,
        mutation,
        key: mutation.into(),
        back,
        button: "Apply to the selected",
        confirm: Some(&confirm),
        done: "Done.",
    }
    .render(html! {
        div class="bulk-bar" {
            label class="field" { span { "Action" }
                select name="action" required { @for (value, label) in actions { option value=(value) { (label) } } }
            }
            (text_field("reason", "Reason", true))
        }
        (table)
    })
}
