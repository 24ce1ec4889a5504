//! Who may do what. The platform's service principal may report usage and read accounts'
//! effective AI settings and prompts, and nothing else: no reads of accounts, payments, the
//! audit log or operators, no tokens, no subscriptions.

use crate::accounts::{adjust, consume_as, open_account};
use crate::helpers::{create_service, error_code, subscribe, websocket, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_service_principal_may_report_usage_and_read_or_change_nothing_else() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "metered").await;
    adjust(&app, &account, 100, "opening balance").await;
    let me: Value = app.graphql("{ me { id } }", json!({})).await;
    let root_id = me["data"]["me"]["id"].as_str().unwrap().to_string();
    let platform_id: String =
        sqlx::query_scalar("SELECT id::text FROM read.operators WHERE service")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();

    let refused = [
        "{ me { id } }".to_string(),
        "{ operators { totalCount } }".to_string(),
        format!("{{ operator(id: \"{root_id}\") {{ email }} }}"),
        "{ auditLog { totalCount } }".to_string(),
        "{ accounts { totalCount } }".to_string(),
        format!("{{ account(id: \"{account}\") {{ balance }} }}"),
        "{ creditLedger { totalCount } }".to_string(),
        "{ payments { totalCount } }".to_string(),
        "{ projections { name } }".to_string(),
        format!(
            "mutation {{ issueOperatorToken(input: {{ operatorId: \"{platform_id}\", label: \"mine\" }}) {{ token }} }}"
        ),
        format!(
            "mutation {{ revokeOperatorToken(input: {{ operatorId: \"{platform_id}\", tokenId: \"{platform_id}\" }}) {{ position }} }}"
        ),
        "mutation { registerOperator(input: { email: \"x@example.com\", displayName: \"X\" }) { position } }".to_string(),
        format!("mutation {{ adjustCredits(input: {{ accountId: \"{account}\", amount: 5, reason: \"r\" }}) {{ position }} }}"),
        format!(
            "mutation {{ recordPayment(input: {{ accountId: \"{account}\", amountMinor: 100, currency: \"USD\", credits: 5, method: WIRE }}) {{ position }} }}"
        ),
    ];
    for query in &refused {
        let (_, body) = app.graphql_as(Some(&platform), query, json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body}");
        let text = body.to_string();
        assert!(!text.contains("root@example.com"), "{query} leaked: {text}");
    }

    let body = consume_as(&app, &platform, &account, 10).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["consumeCredits"]["account"]["balance"], 90);

    // What it asks on every AI call: the account's effective settings and prompt.
    let (_, body) = app
        .graphql_as(
            Some(&platform),
            &format!(
                "{{ accountAiSettings(accountId: \"{account}\") {{ providers {{ provider \
                 settings {{ setting value source }} }} }} \
                 effectivePrompt(accountId: \"{account}\", promptType: \"ideas\") {{ text }} }}"
            ),
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["accountAiSettings"]["providers"][0]["provider"],
        "OPENAI"
    );
    assert!(
        body["data"]["effectivePrompt"]["text"].is_string(),
        "{body}"
    );
    assert!(!body.to_string().contains("encrypted"), "{body}");
}

#[tokio::test]
async fn a_service_principal_cannot_subscribe_over_the_websocket() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    assert!(
        subscription_refused(&app, &platform).await,
        "the subscription was refused with FORBIDDEN"
    );
}

#[tokio::test]
async fn a_platform_users_token_cannot_subscribe_over_the_websocket() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "subscriber").await;
    let owner = crate::access_matrix::platform_user_token(&app, &account, "owner").await;
    assert!(
        subscription_refused(&app, &owner).await,
        "the subscription was refused with FORBIDDEN"
    );
}

/// Whether a subscription to the engine's progress, over the websocket with `token`, is
/// refused with `FORBIDDEN`.
async fn subscription_refused(app: &TestApp, token: &str) -> bool {
    let mut socket = websocket(app, Some(token)).await;
    subscribe(
        &mut socket,
        "subscription { projectionProgress { name position } }",
    )
    .await;
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(5), socket.next()).await
    {
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        match frame["type"].as_str() {
            Some("connection_ack") => continue,
            Some("error") | Some("next") => {
                let errors = if frame["type"] == "error" {
                    &frame["payload"]
                } else {
                    &frame["payload"]["errors"]
                };
                return errors.to_string().contains("FORBIDDEN");
            }
            _ => break,
        }
    }
    false
}
