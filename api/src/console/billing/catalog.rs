//! What accounts may buy: the plans (with their current terms), the credit packages and the
//! credit cost of each operation, with activate and deactivate for superusers.

use crate::console::page::{self, count, field, money, text_field, when, Action, Section};
use crate::console::{ask, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::{html, Markup};
use serde_json::{json, Value};

const QUERY: &str = "{ plans { id code name active currentVersion \
      terms { priceMinor currency includedCredits } } \
    creditPackages { id name credits priceMinor currency active currentVersion } \
    creditCosts { operation version creditsPerUnit effectiveFrom inForce withdrawn } }";

pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Answer {
    visitor.require(
        Rule::Scoped(Permission::BillingRead),
        "the plans and packages",
    )?;
    let data = ask(&state, &visitor, QUERY, json!({})).await?;
    let superuser = Rule::Superuser.allows(&visitor.principal);
    let back = "/plans";
    let toggle = |kind: &str, row: &Value, id_field: &str| -> Markup {
        if !superuser {
            return html! {};
        }
        let active = row["active"] == true;
        let (verb, done) = if active {
            ("deactivate", "Deactivated.")
        } else {
            ("activate", "Activated.")
        };
        let mutation = format!("{verb}{kind}");
        html! {
            (Action { visitor: &visitor, mutation: &mutation, key: format!("{mutation}:{}", field(row, "id")), back,
                      button: if active { "Deactivate" } else { "Activate" },
                      confirm: active.then_some("Deactivate it? No new purchase or subscription can use it."), done }
                .render(html! { input type="hidden" name=(id_field) value=(field(row, "id")); (text_field("reason", "Reason", true)) }))
        }
    };
    let plans = data["plans"].as_array().cloned().unwrap_or_default();
    let packages = data["creditPackages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let costs = data["creditCosts"].as_array().cloned().unwrap_or_default();
    let body = html! {
        h2 { "Plans" }
        (page::table("plans", &plans, &[
            ("Plan", &|p| html! { (field(p, "name")) " " code { (field(p, "code")) } }),
            ("Price a month", &|p| html! { (money(p["terms"]["priceMinor"].as_i64().unwrap_or(0), &field(&p["terms"], "currency"))) }),
            ("Credits a month", &|p| html! { (count(p["terms"]["includedCredits"].as_i64().unwrap_or(0))) }),
            ("Version", &|p| html! { (p["currentVersion"]) }),
            ("Active", &|p| html! { (if p["active"] == true { "yes" } else { "no" }) }),
            ("", &|p| toggle("Plan", p, "planId")),
        ]))
        h2 { "Credit packages" }
        (page::table("packages", &packages, &[
            ("Package", &|p| html! { (field(p, "name")) }),
            ("Credits", &|p| html! { (count(p["credits"].as_i64().unwrap_or(0))) }),
            ("Price", &|p| html! { (money(p["priceMinor"].as_i64().unwrap_or(0), &field(p, "currency"))) }),
            ("Version", &|p| html! { (p["currentVersion"]) }),
            ("Active", &|p| html! { (if p["active"] == true { "yes" } else { "no" }) }),
            ("", &|p| toggle("CreditPackage", p, "packageId")),
        ]))
        h2 { "Credit costs" }
        (page::table("costs", &costs, &[
            ("Operation", &|c| html! { code { (field(c, "operation")) } }),
            ("Version", &|c| html! { (c["version"]) }),
            ("Credits a unit", &|c| html! { (c["creditsPerUnit"]) }),
            ("From", &|c| html! { (when(&field(c, "effectiveFrom"))) }),
            ("In force", &|c| html! { (if c["inForce"] == true { "yes" } else if c["withdrawn"] == true { "withdrawn" } else { "no" }) }),
        ]))
    };
    Ok(page::page(
        &visitor,
        "Plans, packages and credit costs",
        Section::Plans,
        body,
    ))
}
