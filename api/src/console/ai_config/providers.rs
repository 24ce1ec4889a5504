//! The platform's AI integration settings: per provider, whether it is enabled, its default
//! model and parameters, and its API key, which is write-only here as everywhere: the page
//! shows only whether a key is set, when and by whom.

use crate::console::page::{self, field, text_field, when, Action, Section};
use crate::console::{ask, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::json;

const QUERY: &str = "{ aiProviders { provider enabled updatedAt \
    settings { model temperature maxTokens imageSize imageQuality imageStyle } key { set setAt setBy } } }";

const SETTINGS: [(&str, &str); 6] = [
    ("model", "Model"),
    ("temperature", "Temperature"),
    ("maxTokens", "Max tokens"),
    ("imageSize", "Image size"),
    ("imageQuality", "Image quality"),
    ("imageStyle", "Image style"),
];

pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Answer {
    visitor.require(Rule::Staff, "the platform's AI settings")?;
    let data = ask(&state, &visitor, QUERY, json!({})).await?;
    let can_change = Rule::Can(Permission::SettingsGlobal).allows(&visitor.principal);
    let back = "/settings/ai";
    let body = html! {
        p class="muted" { "Defaults every account uses unless its plan lets it override them. API keys are encrypted before they are recorded and never shown again." }
        @for provider in data["aiProviders"].as_array().into_iter().flatten() {
            @let name = field(provider, "provider");
            section id={ "provider-" (name.to_lowercase()) } {
                h2 { (name) " " span class="muted" { (if provider["enabled"] == true { "enabled" } else { "disabled" }) } }
                dl class="facts" {
                    @for (key, label) in SETTINGS {
                        @if !provider["settings"][key].is_null() { dt { (label) } dd { (field(&provider["settings"], key)) } }
                    }
                    dt { "API key" }
                    dd {
                        @if provider["key"]["set"] == true {
                            "set " (when(&field(&provider["key"], "setAt"))) " by " (field(&provider["key"], "setBy"))
                        } @else { "not set" }
                    }
                }
                @if can_change {
                    (Action { visitor: &visitor, mutation: "configureAiProvider", key: format!("configureAiProvider:{name}"), back,
                              button: "Save defaults", confirm: None, done: "Settings saved." }
                        .render(html! {
                            input type="hidden" name="provider" value=(name);
                            label class="field" { span { "Enabled" }
                                select name="enabled" {
                                    option value="true" selected[provider["enabled"] == true] { "yes" }
                                    option value="false" selected[provider["enabled"] != true] { "no" }
                                }
                            }
                            @for (key, label) in SETTINGS {
                                label class="field" { span { (label) }
                                    input type="text" name={ "settings." (key) } value=[provider["settings"][key].as_str().map(str::to_string)
                                        .or_else(|| (!provider["settings"][key].is_null()).then(|| field(&provider["settings"], key)))]; }
                            }
                            (text_field("reason", "Reason", true))
                        }))
                    (Action { visitor: &visitor, mutation: "setAiProviderKey", key: format!("setAiProviderKey:{name}"), back,
                              button: if provider["key"]["set"] == true { "Rotate key" } else { "Set key" }, confirm: None, done: "Key saved." }
                        .render(html! {
                            input type="hidden" name="provider" value=(name);
                            label class="field" { span { "New API key" } input type="password" name="apiKey" autocomplete="new-password" required; }
                            (text_field("reason", "Reason", true))
                        }))
                    @if provider["key"]["set"] == true {
                        (Action { visitor: &visitor, mutation: "removeAiProviderKey", key: format!("removeAiProviderKey:{name}"), back,
                                  button: "Remove key", confirm: Some("Remove this key? It is destroyed and cannot be recovered."), done: "Key removed." }
                            .render(html! {
                                input type="hidden" name="provider" value=(name);
                                (text_field("reason", "Reason", true))
                            }))
                    }
                }
            }
        }
    };
    Ok(page::page(
        &visitor,
        "AI integration settings",
        Section::Settings,
        body,
    ))
}
