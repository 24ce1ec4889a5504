//! What accounts may buy: the plans (with their current terms), the credit packages and the
//! credit cost of each operation; revising, cloning, activating and deactivating them, new
//! packages and costs, for those whose permissions allow it.

use crate::console::page::{self, count, field, money, when, Forms, Section};
use crate::console::{act, ask, Answer, Visitor};
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
    let back = "/plans";
    let catalog = act::catalog(&state).await;
    let forms = Forms::new(&visitor, catalog, back, &[]);
    let toggle = |kind: &str, row: &Value, id_field: &str| -> Markup {
        let id = field(row, "id");
        let given = [(id_field, id.as_str())];
        let forms = forms.given(&given);
        let (activate, deactivate, revise) = (
            format!("activate{kind}"),
            format!("deactivate{kind}"),
            format!("revise{kind}"),
        );
        html! {
            div class="actions" {
                @if row["active"] == true {
                    (forms.confirming(&deactivate, "Deactivate", "Deactivated.",
                                      "Deactivate it? No new purchase or subscription can use it."))
                } @else {
                    (forms.offer(&activate, "Activate", "Activated."))
                }
                (forms.offer(&revise, "Revise", "Revised: a new version is in force."))
                @if kind == "Plan" { (forms.offer("clonePlan", "Clone", "Plan cloned.")) }
            }
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
        (forms.offer("createCreditPackage", "Create a credit package", "Credit package created."))
        h2 { "Credit costs" }
        (page::table("costs", &costs, &[
            ("Operation", &|c| html! { code { (field(c, "operation")) } }),
            ("Version", &|c| html! { (c["version"]) }),
            ("Credits a unit", &|c| html! { (c["creditsPerUnit"]) }),
            ("From", &|c| html! { (when(&field(c, "effectiveFrom"))) }),
            ("In force", &|c| html! { (if c["inForce"] == true { "yes" } else if c["withdrawn"] == true { "withdrawn" } else { "no" }) }),
            ("", &|c| {
                let (operation, version) = (field(c, "operation"), field(c, "version"));
                if c["withdrawn"] == true {
                    return html! {};
                }
                let given = [("operation", operation.as_str()), ("version", version.as_str())];
                forms.given(&given).confirming("withdrawCreditCost", "Withdraw", "Credit cost withdrawn.",
                                               "Withdraw this version of the cost?")
            }),
        ]))
        (forms.offer("setCreditCost", "Set a credit cost", "Credit cost set."))
    };
    Ok(page::page(
        &visitor,
        "Plans, packages and credit costs",
        Section::Plans,
        body,
    ))
}
