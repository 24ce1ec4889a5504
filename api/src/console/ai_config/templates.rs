//! Author profiles and content strategies: the library and accounts' own, created, revised,
//! activated or deactivated, and copied from the library to an account.

use crate::console::page::{self, field, when, words, Forms, Section};
use crate::console::{act, ask, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::{html, Markup};
use serde_json::{json, Value};

const QUERY: &str = "{ authorProfiles(first: 100) { nodes { id accountId name description category version active tone language updatedAt } } \
    contentStrategies(first: 100) { nodes { id accountId name description category version active promptTypes updatedAt } } }";

pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Answer {
    visitor.require(
        Rule::Scoped(Permission::AccountsRead),
        "the author profiles and strategies",
    )?;
    let data = ask(&state, &visitor, QUERY, json!({})).await?;
    let owner = |t: &Value| -> Markup {
        match t["accountId"].as_str() {
            Some(account) => html! { a href={ "/accounts/" (account) } { (account) } },
            None => html! { "library" },
        }
    };
    let profiles = data["authorProfiles"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let strategies = data["contentStrategies"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let forms = Forms::new(&visitor, act::catalog(&state).await, "/templates", &[]);
    // A template's own changes (revise, activate or deactivate, clone to an account).
    let changes = |revise: &'static str, t: &Value| -> Markup {
        let id = field(t, "id");
        let given = [("id", id.as_str())];
        let clone = [("templateId", id.as_str())];
        html! {
            div class="actions" {
                (forms.given(&given).offer(revise, "Revise", "Revised: a new version is in force."))
                (forms.given(&given).offer("changeTemplateStatus", "Activate or deactivate", "Status changed."))
                @if t["accountId"].is_null() {
                    (forms.given(&clone).offer("cloneTemplate", "Copy to an account", "Copied to the account."))
                }
            }
        }
    };
    let body = html! {
        h2 { "Author profiles" }
        (page::table("author-profiles", &profiles, &[
            ("Name", &|t| html! { (field(t, "name")) br; span class="muted" { (field(t, "description")) } }),
            ("Whose", &owner),
            ("Category", &|t| html! { (words(&field(t, "category"))) }),
            ("Tone / language", &|t| html! { (field(t, "tone")) " / " (field(t, "language")) }),
            ("Version", &|t| html! { (t["version"]) @if t["active"] != true { " (inactive)" } }),
            ("Changed", &|t| html! { (when(&field(t, "updatedAt"))) }),
            ("", &|t| changes("reviseAuthorProfile", t)),
        ]))
        (forms.offer("createAuthorProfile", "Create an author profile", "Author profile created."))
        h2 { "Content strategies" }
        (page::table("content-strategies", &strategies, &[
            ("Name", &|t| html! { (field(t, "name")) br; span class="muted" { (field(t, "description")) } }),
            ("Whose", &owner),
            ("Category", &|t| html! { (words(&field(t, "category"))) }),
            ("Prompt types", &|t| html! { (t["promptTypes"].as_array().into_iter().flatten().map(page::json_cell).collect::<Vec<_>>().join(", ")) }),
            ("Version", &|t| html! { (t["version"]) @if t["active"] != true { " (inactive)" } }),
            ("Changed", &|t| html! { (when(&field(t, "updatedAt"))) }),
            ("", &|t| changes("reviseContentStrategy", t)),
        ]))
        (forms.offer("createContentStrategy", "Create a content strategy", "Content strategy created."))
    };
    Ok(page::page(
        &visitor,
        "Author profiles and strategies",
        Section::Templates,
        body,
    ))
}
