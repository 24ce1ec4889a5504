//! Author profiles and content strategies: the library and accounts' own.

use crate::console::page::{self, field, when, words, Section};
use crate::console::{ask, Answer, Visitor};
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
    let body = html! {
        h2 { "Author profiles" }
        (page::table("author-profiles", &profiles, &[
            ("Name", &|t| html! { (field(t, "name")) br; span class="muted" { (field(t, "description")) } }),
            ("Whose", &owner),
            ("Category", &|t| html! { (words(&field(t, "category"))) }),
            ("Tone / language", &|t| html! { (field(t, "tone")) " / " (field(t, "language")) }),
            ("Version", &|t| html! { (t["version"]) @if t["active"] != true { " (inactive)" } }),
            ("Changed", &|t| html! { (when(&field(t, "updatedAt"))) }),
        ]))
        h2 { "Content strategies" }
        (page::table("content-strategies", &strategies, &[
            ("Name", &|t| html! { (field(t, "name")) br; span class="muted" { (field(t, "description")) } }),
            ("Whose", &owner),
            ("Category", &|t| html! { (words(&field(t, "category"))) }),
            ("Prompt types", &|t| html! { (t["promptTypes"].as_array().into_iter().flatten().map(page::json_cell).collect::<Vec<_>>().join(", ")) }),
            ("Version", &|t| html! { (t["version"]) @if t["active"] != true { " (inactive)" } }),
            ("Changed", &|t| html! { (when(&field(t, "updatedAt"))) }),
        ]))
    };
    Ok(page::page(
        &visitor,
        "Author profiles and strategies",
        Section::Templates,
        body,
    ))
}
