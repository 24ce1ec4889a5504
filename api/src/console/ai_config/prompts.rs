//! The prompt library: each type's published version, every saved version, a diff of any two,
//! an editor that saves a new version (published at once or not), and publishing an earlier
//! version (the roll back).

use crate::console::page::{self, field, text_field, when, Action, Forms, Section};
use crate::console::{act, ask, encode, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::identity::permission::Permission;
use maud::html;
use serde::Deserialize;
use serde_json::json;

const LIST: &str =
    "{ prompts { promptType description publishedVersion latestVersion active updatedAt } }";

pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Answer {
    visitor.require(Rule::Scoped(Permission::AccountsRead), "the prompt library")?;
    let data = ask(&state, &visitor, LIST, json!({})).await?;
    let prompts = data["prompts"].as_array().cloned().unwrap_or_default();
    let table = page::table(
        "prompts",
        &prompts,
        &[
            (
                "Type",
                &|p| html! { a href={ "/prompts/" (encode(&field(p, "promptType"))) } { (field(p, "promptType")) } },
            ),
            ("Description", &|p| html! { (field(p, "description")) }),
            (
                "Published version",
                &|p| html! { (p["publishedVersion"]) " of " (p["latestVersion"]) },
            ),
            (
                "Active",
                &|p| html! { (if p["active"] == true { "yes" } else { "no" }) },
            ),
            ("Changed", &|p| html! { (when(&field(p, "updatedAt"))) }),
        ],
    );
    let body = html! {
        p { "See also the " a href="/templates" { "author profiles and content strategies" } "." }
        (table)
        (Forms::new(&visitor, act::catalog(&state).await, "/prompts", &[])
            .offer("createPrompt", "Create a prompt type", "Prompt type created."))
    };
    Ok(page::page(&visitor, "Prompts", Section::Prompts, body))
}

const ONE: &str =
    "query($type: String!, $from: Int!, $to: Int!, $diff: Boolean!) { prompt(promptType: $type) { \
    promptType description publishedVersion latestVersion active variables published \
    versions { version text createdAt createdBy } \
    diff(from: $from, to: $to) @include(if: $diff) { kind text } } }";

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

pub async fn one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(kind): Path<String>,
    Query(diff): Query<DiffQuery>,
) -> Answer {
    visitor.require(Rule::Scoped(Permission::AccountsRead), "the prompt library")?;
    let variables = json!({ "type": kind, "from": diff.from.unwrap_or(1), "to": diff.to.unwrap_or(1),
                            "diff": diff.from.is_some() && diff.to.is_some() });
    let data = ask(&state, &visitor, ONE, variables).await?;
    let prompt = &data["prompt"];
    if prompt.is_null() {
        return Err(page::refusal(
            StatusCode::NOT_FOUND,
            &format!("There is no prompt type `{kind}`."),
        ));
    }
    let back = format!("/prompts/{}", encode(&kind));
    let can_write = Rule::Can(Permission::PromptsWrite).allows(&visitor.principal);
    let versions = prompt["versions"].as_array().cloned().unwrap_or_default();
    let published = prompt["publishedVersion"].clone();
    let body = html! {
        p { (field(prompt, "description")) }
        p class="muted" { "Variables: " @for variable in prompt["variables"].as_array().into_iter().flatten() { code { "{" (page::json_cell(variable)) "}" } " " } }
        h2 { "Published: version " (published) }
        pre id="published" { (field(prompt, "published")) }
        @if can_write {
            h2 { "Save a new version" }
            (Action { visitor: &visitor, mutation: "savePromptVersion", key: "savePromptVersion".into(), back: &back,
                      button: "Save version", confirm: None, done: "Version saved." }
                .render(html! {
                    input type="hidden" name="promptType" value=(kind);
                    label class="field wide" { span { "Text" } textarea name="text" rows="8" cols="90" required { (field(prompt, "published")) } }
                    label class="field" { span { "Publish it now" } input type="checkbox" name="publish" value="true"; }
                    (text_field("reason", "Reason", true))
                }))
        }
        h2 { "Compare versions" }
        form method="get" action=(back) class="filters" {
            label class="field" { span { "From" } input type="number" name="from" min="1" max=(prompt["latestVersion"]) value=[diff.from] required; }
            label class="field" { span { "To" } input type="number" name="to" min="1" max=(prompt["latestVersion"]) value=[diff.to] required; }
            button type="submit" { "Compare" }
        }
        @if let Some(lines) = prompt["diff"].as_array() {
            pre class="diff" id="diff" {
                @for line in lines {
                    @let kind = field(line, "kind");
                    span class=(match kind.as_str() { "ADDED" => "new", "REMOVED" => "old", _ => "same" }) {
                        (match kind.as_str() { "ADDED" => "+ ", "REMOVED" => "- ", _ => "  " }) (field(line, "text")) "\n"
                    }
                }
            }
        }
        h2 { "Versions" }
        (page::table("versions", &versions, &[
            ("Version", &|v| html! { (v["version"]) @if v["version"] == published { " (published)" } }),
            ("Saved", &|v| html! { (when(&field(v, "createdAt"))) " by " (field(v, "createdBy")) }),
            ("Text", &|v| html! { details { summary { "show" } pre { (field(v, "text")) } } }),
            ("", &|v| html! {
                @if can_write && v["version"] != published {
                    (Action { visitor: &visitor, mutation: "publishPromptVersion", key: format!("publishPromptVersion:{}", v["version"]), back: &back,
                              button: "Publish this version", confirm: Some("Publish this version? Every account following the default gets it."), done: "Version published." }
                        .render(html! {
                            input type="hidden" name="promptType" value=(kind);
                            input type="hidden" name="version" value=(v["version"]);
                            (text_field("reason", "Reason", true))
                        }))
                }
            }),
        ]))
    };
    Ok(page::page(
        &visitor,
        &format!("Prompt: {kind}"),
        Section::Prompts,
        body,
    ))
}
