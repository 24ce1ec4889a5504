//! The web console, over real HTTP (sessions, CSRF, the same rules and codes as GraphQL) and in
//! a real browser (headless Chromium: sign in, approve, reset a prompt, a bulk action, an
//! export, and what a Support Agent and an account user may not do).

use crate::access_matrix::{platform_user_token, staff_in_group};
use crate::accounts::{adjust, open_account};
use crate::browser::Browser;
use crate::helpers::{all_projected, TestApp};
use crate::payments::record_payment;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;

/// A person at the console over plain HTTP: the session cookie kept by hand, redirects not
/// followed, so each answer's status and target can be checked.
struct Person<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl<'a> Person<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn sign_in(&mut self, token: &str) -> reqwest::Response {
        let response = self
            .http
            .post(self.app.url("/sign-in"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        if let Some(cookie) = response.headers().get(SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            self.cookie = Some(cookie.split(';').next().unwrap().to_string());
        }
        response
    }

    async fn get(&self, path: &str) -> (StatusCode, Option<String>, String) {
        self.send(self.http.get(self.app.url(path))).await
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        self.send(self.http.post(self.app.url(path)).form(form))
            .await
    }

    /// Sends with this session's cookie: the status, where it redirects to, and the body.
    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> (StatusCode, Option<String>, String) {
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        (status, location, response.text().await.unwrap())
    }

    /// The CSRF value the pages of this session carry.
    async fn csrf(&self) -> String {
        let (_, _, page) = self.get("/audit").await;
        let at = page
            .find("name=\"_csrf\" value=\"")
            .expect("a form with the CSRF value")
            + 20;
        page[at..at + 64].to_string()
    }
}

impl Person<'_> {
    /// Fills and sends the form of `mutation` on page `path` as a browser would: the hidden
    /// fields the page gave it (CSRF, key, the record's id), then `fields`. Panics when the
    /// page offers no such form. Answers where it was sent back to.
    async fn submit(&self, path: &str, mutation: &str, fields: &[(&str, &str)]) -> String {
        let (status, _, page) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let hidden = form_of(&page, mutation)
            .unwrap_or_else(|| panic!("{path} offers no `{mutation}` form: {page}"));
        let mut sent: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        sent.extend_from_slice(fields);
        let (status, location, body) = self.post("/act", &sent).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{mutation}: {body}");
        all_projected(self.app).await;
        location.unwrap()
    }
}

/// The hidden fields of the form on `page` that runs `mutation`, if there is one.
fn form_of(page: &str, mutation: &str) -> Option<Vec<(String, String)>> {
    let marker = format!("name=\"_mutation\" value=\"{mutation}\"");
    let at = page.find(&marker)?;
    let start = page[..at].rfind("<form")?;
    let end = at + page[at..].find("</form>")?;
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let from = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let to = from + tag[from..].find('"')?;
        Some(tag[from..to].replace("&quot;", "\"").replace("&amp;", "&"))
    };
    Some(
        page[start..end]
            .split("<input")
            .skip(1)
            .filter(|tag| tag.contains("type=\"hidden\""))
            .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
            .collect(),
    )
}

async fn balance(app: &TestApp, account: &str) -> i64 {
    let body = app
        .graphql(
            "query($id: ID!) { account(id: $id) { balance } }",
            json!({ "id": account }),
        )
        .await;
    body["data"]["account"]["balance"].as_i64().unwrap()
}

#[tokio::test]
async fn a_token_is_exchanged_for_a_session_that_signing_out_or_revoking_ends() {
    let app = TestApp::spawn().await;
    let mut person = Person::new(&app);

    let (status, location, _) = person.get("/accounts?plan=FREE").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/sign-in?next=/accounts%3Fplan%3DFREE")
    );

    let refused = person.sign_in("igny8_not-a-real-token").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get(SET_COOKIE).is_none());
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("That token is not valid"));

    let signed_in = person.sign_in(&app.token).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains(&app.token), "the cookie is not the token");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM console.sessions WHERE token_hash = $1 OR id_hash = $1 OR csrf = $1",
    )
    .bind(&app.token)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0, "the token itself is stored nowhere");

    let (status, _, page) = person.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Dashboard</h1>"), "{page}");
    assert!(!page.contains(&app.token), "no page holds the token");

    // Signing out needs the session's CSRF value; then the cookie opens nothing.
    let (status, _, _) = person.post("/sign-out", &[("_csrf", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let csrf = person.csrf().await;
    let (status, location, _) = person.post("/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/sign-in?ended=signed-out"))
    );
    let (status, location, _) = person.get("/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/sign-in?ended=expired"));

    // A revoked token ends the sessions opened with it, from the next page on.
    let token = crate::helpers::create_operator(&app.db.settings(), "ops@example.com", true).await;
    let mut other = Person::new(&app);
    other.sign_in(&token).await;
    assert_eq!(other.get("/accounts").await.0, StatusCode::OK);
    let me = app
        .graphql_as(Some(&token), "{ me { id tokens { tokenId } } }", json!({}))
        .await
        .1;
    let revoked = app
        .graphql(
            "mutation($input: RevokeOperatorTokenInput!) { revokeOperatorToken(input: $input) { position } }",
            json!({ "input": { "operatorId": me["data"]["me"]["id"], "tokenId": me["data"]["me"]["tokens"][0]["tokenId"],
                                "reason": "left the company" } }),
        )
        .await;
    assert!(revoked["errors"].is_null(), "{revoked}");
    let (status, location, _) = other.get("/accounts").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/sign-in?next=/accounts&ended=revoked")
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM console.sessions")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "both sessions have ended");
}

#[tokio::test]
async fn an_action_is_the_mutation_as_the_visitor_with_the_same_codes_and_forged_forms_do_nothing()
{
    let app = TestApp::spawn().await;
    let account = open_account(&app, "acme").await;
    adjust(&app, &account, 100, "opening balance").await;
    let mut person = Person::new(&app);
    person.sign_in(&app.token).await;
    let csrf = person.csrf().await;
    let back = format!("/accounts/{account}");
    let form = |amount: &'static str, reason: &'static str, csrf: String| {
        vec![
            ("_csrf", csrf),
            ("_mutation", "adjustCredits".to_string()),
            ("_back", back.clone()),
            ("_form", "adjustCredits".to_string()),
            ("_done", "Credits adjusted.".to_string()),
            ("_key", uuid::Uuid::new_v4().to_string()),
            ("accountId", account.clone()),
            ("amount", amount.to_string()),
            ("reason", reason.to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let person = &person;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            person.post("/act", &pairs).await
        }
    };

    // Forged: another session's value, or another site's origin. Nothing is appended.
    let events = crate::accounts::event_count(&app).await;
    let (status, _, page) = send(form("5", "forged", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("out of date"), "{page}");
    let cross_site = person
        .http
        .post(app.url("/act"))
        .header(COOKIE, person.cookie.clone().unwrap())
        .header("origin", "https://evil.example")
        .form(&form("5", "cross-site", csrf.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(crate::accounts::event_count(&app).await, events);

    // A value of the wrong type is refused beside its field, before anything runs.
    let (status, location, _) = send(form("lots", "typo", csrf.clone())).await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some(back.as_str()))
    );
    let (_, _, page) = person.get(&back).await;
    assert!(page.contains("`amount` must be a whole number"), "{page}");
    assert!(page.contains("data-field=\"amount\""), "{page}");

    // The domain's own refusal, with GraphQL's code and message.
    let (status, _, _) = send(form("5", "  ", csrf.clone())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = person.get(&back).await;
    assert!(page.contains("<code>VALIDATION</code>"), "{page}");
    assert_eq!(balance(&app, &account).await, 100);
    // Shown once: the next page is clean.
    let (_, _, page) = person.get(&back).await;
    assert!(!page.contains("VALIDATION"), "{page}");

    // Done, by the visitor, with the reason given, once however often the form is sent.
    let done = form("1,500", "goodwill", csrf.clone());
    send(done.clone()).await;
    let (_, _, page) = person.get(&back).await;
    assert!(page.contains("Credits adjusted."), "{page}");
    assert_eq!(balance(&app, &account).await, 1_600);
    send(done).await;
    assert_eq!(
        balance(&app, &account).await,
        1_600,
        "the form's key made the resend a no-op"
    );
    let audit = app
        .graphql(
            "query($id: String) { auditLog(first: 1, filter: { aggregateId: $id }) { nodes { actorKind reason action } } }",
            json!({ "id": account }),
        )
        .await;
    assert_eq!(
        audit["data"]["auditLog"]["nodes"][0]["reason"], "goodwill",
        "{audit}"
    );
    assert_eq!(
        audit["data"]["auditLog"]["nodes"][0]["actorKind"], "operator",
        "{audit}"
    );

    // Exports open with the session's cookie (GET only), and nothing without it.
    let (status, _, csv) = person.get("/export/accounts?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.contains("acme"), "{csv}");
    let anonymous = Person::new(&app);
    assert_eq!(
        anonymous.get("/export/accounts?format=csv").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn each_person_sees_and_may_do_what_their_role_allows_and_no_other_account() {
    let app = TestApp::spawn().await;
    let mine = open_account(&app, "mine").await;
    let theirs = open_account(&app, "theirs-private").await;
    let payment = record_payment(&app, &mine, 1_000, 10).await;

    let agent = staff_in_group(&app, "agent@example.com", "Support Agent").await;
    let mut support = Person::new(&app);
    support.sign_in(&agent).await;
    let (status, _, page) = support.get("/payments").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&payment),
        "the agent sees the payment: {page}"
    );
    assert!(
        !page.contains("approvePayment"),
        "but no approve button: {page}"
    );
    // Not the dashboard (no `insight.read`): they start at the accounts.
    assert_eq!(support.get("/").await.1.as_deref(), Some("/accounts"));
    // And a forged approval is refused by GraphQL's own guard.
    let csrf = support.csrf().await;
    support
        .post(
            "/act",
            &[
                ("_csrf", &csrf),
                ("_mutation", "approvePayment"),
                ("_back", "/payments"),
                ("_form", "approvePayment:x"),
                ("paymentId", &payment),
            ],
        )
        .await;
    let (_, _, page) = support.get("/payments").await;
    assert!(page.contains("<code>FORBIDDEN</code>"), "{page}");
    let status: String = sqlx::query_scalar("SELECT status FROM read.payments WHERE id = $1::uuid")
        .bind(&payment)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "pending");

    let owner = platform_user_token(&app, &mine, "owner").await;
    let mut user = Person::new(&app);
    user.sign_in(&owner).await;
    assert_eq!(user.get("/").await.1, Some(format!("/accounts/{mine}")));
    assert_eq!(
        user.get("/accounts").await.1,
        Some(format!("/accounts/{mine}"))
    );
    let (status, _, page) = user.get(&format!("/accounts/{mine}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("mine"));
    let (status, _, page) = user.get(&format!("/accounts/{theirs}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(!page.contains("theirs-private"), "{page}");
    let (status, _, _) = user.get("/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn in_a_browser_staff_approve_reset_run_a_bulk_action_and_export_and_others_may_not() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let acme = open_account(&app, "acme").await;
    let other = open_account(&app, "other-co").await;
    adjust(&app, &acme, 100, "opening balance").await;
    let first = record_payment(&app, &acme, 5_000, 500).await;
    let bulk = [
        record_payment(&app, &acme, 1_000, 10).await,
        record_payment(&app, &acme, 2_000, 20).await,
    ];
    let owner = platform_user_token(&app, &acme, "owner").await;
    let customized = app
        .graphql_as(
            Some(&owner),
            "mutation($input: CustomizePromptInput!) { customizePrompt(input: $input) { prompt { source } } }",
            json!({ "input": { "accountId": acme, "promptType": "clustering",
                                "text": "Our clusters: {keywords}", "reason": "our voice" } }),
        )
        .await
        .1;
    assert!(customized["errors"].is_null(), "{customized}");
    let agent = staff_in_group(&app, "agent@example.com", "Support Agent").await;
    let tokens = [app.token.clone(), owner.clone(), agent.clone()];
    let no_token_in = |html: &str| tokens.iter().all(|t| !html.contains(t.as_str()));

    // Sign in, and land on the dashboard.
    browser.go(&app.url("/")).await;
    browser.wait_for_heading("Sign in").await;
    browser.screenshot("sign-in").await;
    let field = browser.find("#token").await;
    browser.type_into(&field, &app.token).await;
    browser
        .click(&browser.find("form.sign-in button").await)
        .await;
    browser.wait_for_heading("Dashboard").await;
    browser.screenshot("dashboard").await;
    assert!(no_token_in(&browser.source().await));

    // Approve a payment: the balance and the ledger show its credits.
    browser.go(&app.url("/payments")).await;
    browser.wait_for_heading("Payments").await;
    browser.screenshot("payments").await;
    let approve = format!("form:has(input[name='_form'][value='approvePayment:{first}']) button");
    browser.click(&browser.find(&approve).await).await;
    browser.find(".flash.done").await;
    all_projected(&app).await;
    browser.go(&app.url(&format!("/accounts/{acme}"))).await;
    browser.wait_for_heading("Account acme").await;
    assert_eq!(browser.text(&browser.find("#balance").await).await, "600");
    let ledger = browser.text(&browser.find("#ledger tbody tr").await).await;
    assert!(ledger.contains("500") && ledger.contains("600"), "{ledger}");
    browser.screenshot("account").await;

    // Reset the customized prompt to the default.
    let reset = "form:has(input[name='_form'][value='resetPromptToDefault:clustering'])";
    browser
        .type_into(
            &browser.find(&format!("{reset} input[name='reason']")).await,
            "back to the house style",
        )
        .await;
    browser
        .click(&browser.find(&format!("{reset} button")).await)
        .await;
    browser.accept_confirmation().await;
    let flash = browser.text(&browser.find(".flash.done").await).await;
    assert_eq!(flash, "Prompt reset to the default.");
    assert!(
        browser.try_find(reset).await.is_none(),
        "nothing left to reset"
    );
    let effective = app
        .graphql(
            "query($id: ID!) { effectivePrompt(accountId: $id, promptType: \"clustering\") { source } }",
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(
        effective["data"]["effectivePrompt"]["source"], "GLOBAL_DEFAULT",
        "{effective}"
    );

    // With the keyboard alone: open the rename form from its summary (Enter), fill it, and
    // send it with Enter in its last field.
    const ENTER: &str = "\u{E007}";
    let rename = "form:has(input[name='_mutation'][value='renameAccount'])";
    let summary = browser
        .find("details:has(input[name='_mutation'][value='renameAccount']) > summary")
        .await;
    browser.type_into(&summary, ENTER).await;
    browser
        .type_into(
            &browser.find(&format!("{rename} input[name='name']")).await,
            "Acme Renamed",
        )
        .await;
    browser
        .type_into(
            &browser
                .find(&format!("{rename} input[name='reason']"))
                .await,
            &format!("new brand{ENTER}"),
        )
        .await;
    browser.wait_for_heading("Acme Renamed").await;
    assert_eq!(
        browser.text(&browser.find(".flash.done").await).await,
        "Account renamed."
    );
    browser.screenshot("account-forms").await;

    // A bulk approval of two payments, read item by item.
    browser.go(&app.url("/payments")).await;
    browser.wait_for_heading("Payments").await;
    for id in &bulk {
        browser
            .click(
                &browser
                    .find(&format!("input[name='ids'][value='{id}']"))
                    .await,
            )
            .await;
    }
    let bulk_form = "form:has(input[name='_mutation'][value='bulkPaymentAction'])";
    browser
        .type_into(
            &browser
                .find(&format!("{bulk_form} .bulk-bar input[name='reason']"))
                .await,
            "wires arrived",
        )
        .await;
    browser
        .click(&browser.find(&format!("{bulk_form} > button")).await)
        .await;
    browser.accept_confirmation().await;
    browser
        .wait_for_heading("Results of bulk payment action")
        .await;
    let results = browser.text(&browser.find("table.results").await).await;
    for id in &bulk {
        assert!(results.contains(id.as_str()), "{results}");
    }
    assert_eq!(results.matches("done").count(), 2, "{results}");
    browser.screenshot("bulk-results").await;
    all_projected(&app).await;
    assert_eq!(balance(&app, &acme).await, 630);

    // Export the accounts as CSV and open the file.
    browser.go(&app.url("/accounts")).await;
    browser.wait_for_heading("Accounts").await;
    browser.screenshot("accounts").await;
    browser
        .click(&browser.find("a[href^='/export/accounts?format=csv']").await)
        .await;
    let csv = browser.downloaded(".csv").await;
    let header = csv.lines().next().unwrap_or_default();
    assert!(header.contains("slug"), "{csv}");
    assert!(csv.contains("acme") && csv.contains("other-co"), "{csv}");

    // A Support Agent sees the queue but no approve button.
    browser.click(&browser.find("form.who button").await).await;
    browser.wait_for_heading("Sign in").await;
    browser
        .type_into(&browser.find("#token").await, &agent)
        .await;
    browser
        .click(&browser.find("form.sign-in button").await)
        .await;
    // Signed in once the landing page shows (without `insight.read`, the accounts); going on
    // before that races the sign-in's own redirect.
    browser.wait_for_heading("Accounts").await;
    browser.go(&app.url("/payments?status=ALL")).await;
    browser.wait_for_heading("Payments").await;
    let page = browser.source().await;
    assert!(
        page.contains(&first) && !page.contains("approvePayment"),
        "{page}"
    );
    assert!(no_token_in(&page));
    browser.screenshot("payments-as-support-agent").await;

    // An account's owner sees their account, and not another's.
    browser.click(&browser.find("form.who button").await).await;
    browser.wait_for_heading("Sign in").await;
    browser
        .type_into(&browser.find("#token").await, &owner)
        .await;
    browser
        .click(&browser.find("form.sign-in button").await)
        .await;
    browser.wait_for_heading("Acme Renamed").await;
    browser.go(&app.url(&format!("/accounts/{other}"))).await;
    browser.wait_for_heading("Not found").await;
    let page = browser.source().await;
    assert!(!page.contains("other-co"), "{page}");
    browser.screenshot("another-account-as-owner").await;
    // The other main pages, as the superuser, for the record.
    browser.go(&app.url("/")).await;
    browser.wait_for_heading("Acme Renamed").await;
    browser.click(&browser.find("form.who button").await).await;
    browser.wait_for_heading("Sign in").await;
    browser
        .type_into(&browser.find("#token").await, &app.token)
        .await;
    browser
        .click(&browser.find("form.sign-in button").await)
        .await;
    browser.wait_for_heading("Dashboard").await;
    for (path, heading, shot) in [
        ("/invoices", "Invoices", "invoices"),
        ("/subscriptions", "Subscriptions", "subscriptions"),
        ("/plans", "Plans, packages and credit costs", "plans"),
        ("/prompts/clustering", "Prompt: clustering", "prompt"),
        ("/settings/ai", "AI integration settings", "ai-settings"),
        ("/users", "People", "people"),
        ("/staff", "Staff", "staff"),
        ("/audit", "Audit trail", "audit-trail"),
        ("/system", "System health", "system"),
    ] {
        browser.go(&app.url(path)).await;
        browser.wait_for_heading(heading).await;
        assert!(no_token_in(&browser.source().await), "{path}");
        browser.screenshot(shot).await;
    }
    browser.quit().await;
}

#[tokio::test]
async fn every_page_answers_and_no_page_holds_a_token_or_a_key() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "acme").await;
    adjust(&app, &account, 100, "opening balance").await;
    let payment = record_payment(&app, &account, 1_000, 10).await;
    // Its last four are not hex, so no random id or form key on a page holds them by chance.
    let key = "sk-live-console-secret-wxyz";
    let set = app
        .graphql(
            "mutation($input: SetAiProviderKeyInput!) { setAiProviderKey(input: $input) { __typename } }",
            json!({ "input": { "provider": "OPENAI", "apiKey": key, "reason": "platform key" } }),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let mut person = Person::new(&app);
    person.sign_in(&app.token).await;
    let pages = [
        "/".to_string(),
        "/accounts".to_string(),
        "/accounts?status=ACTIVE&plan=FREE&health=HEALTHY&search=acme&sort=NAME&direction=ASC"
            .to_string(),
        format!("/accounts/{account}"),
        format!("/accounts/{account}?asOf=2099-01-01T00:00"),
        "/payments".to_string(),
        format!("/payments/{payment}"),
        format!("/payments/{payment}?asOf=2000-01-01T00:00"),
        "/payments?status=ALL".to_string(),
        "/invoices".to_string(),
        "/invoices?status=PAID&overdue=true".to_string(),
        "/subscriptions".to_string(),
        "/subscriptions?status=ACTIVE".to_string(),
        "/plans".to_string(),
        "/users".to_string(),
        "/users?search=owner&role=OWNER".to_string(),
        "/templates".to_string(),
        "/prompts".to_string(),
        "/prompts/clustering".to_string(),
        "/prompts/clustering?from=1&to=1".to_string(),
        "/settings/ai".to_string(),
        "/staff".to_string(),
        "/audit".to_string(),
        format!("/audit?aggregateId={payment}"),
        "/system".to_string(),
    ];
    for path in &pages {
        let (status, _, page) = person.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(!page.contains(&app.token), "{path} holds the token");
        assert!(
            !page.contains(key) && !page.contains("wxyz"),
            "{path} holds the key"
        );
    }
    let (_, _, settings) = person.get("/settings/ai").await;
    assert!(
        settings.contains("type=\"password\" name=\"apiKey\""),
        "keys are typed, never shown"
    );
    // A moment the log cannot show is said beside the "as of" control, in GraphQL's words.
    let (_, _, page) = person
        .get(&format!("/accounts/{account}?asOf=2099-01-01T00:00"))
        .await;
    assert!(
        page.contains("data-field=\"asOf\"") && page.contains("(VALIDATION)"),
        "{page}"
    );
    let (_, _, page) = person
        .get(&format!("/payments/{payment}?asOf=2000-01-01T00:00"))
        .await;
    assert!(
        page.contains("did not exist yet") && page.contains("(NOT_FOUND)"),
        "{page}"
    );
    let (_, _, page) = person
        .get(&format!("/payments/{payment}?asOf=2099-01-01T00:00"))
        .await;
    assert!(page.contains("(VALIDATION)"), "{page}");
    // A history page of the account shows its versions with who and why.
    let (_, _, page) = person.get(&format!("/accounts/{account}")).await;
    assert!(
        page.contains("opening balance") && page.contains("Version 2"),
        "{page}"
    );
    // Unknown things are 404 pages, not errors.
    assert_eq!(
        person.get("/prompts/no_such_type").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        person.get(&format!("/jobs/{account}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_forms_the_schema_describes_open_an_account_and_carry_its_billing_through() {
    let app = TestApp::spawn().await;
    let mut person = Person::new(&app);
    person.sign_in(&app.token).await;

    // An account opened from the list's form: enum as a choice, every field labelled.
    let (_, _, list) = person.get("/accounts").await;
    assert!(list.contains("Owner email"), "{list}");
    assert!(
        list.contains("<option value=\"GROWTH\">growth</option>"),
        "{list}"
    );
    let fields = [
        ("name", "Forms Ltd"),
        ("slug", "forms-ltd"),
        ("ownerEmail", "owner@forms.example"),
        ("plan", "GROWTH"),
    ];
    assert_eq!(
        person.submit("/accounts", "openAccount", &fields).await,
        "/accounts"
    );
    let opened = app
        .graphql("{ account(slug: \"forms-ltd\") { id name } }", json!({}))
        .await;
    let account = opened["data"]["account"]["id"]
        .as_str()
        .expect("opened")
        .to_string();
    let page = format!("/accounts/{account}");

    // A refusal comes back beside its form, which stays open.
    person
        .submit(&page, "renameAccount", &[("name", " "), ("reason", "typo")])
        .await;
    let (_, _, shown) = person.get(&page).await;
    let at = shown.find("value=\"renameAccount\"").unwrap();
    let form = &shown[shown[..at].rfind("<details").unwrap()..];
    assert!(form.starts_with("<details class=\"form\" open"), "{form}");
    assert!(
        form[..form.find("</details>").unwrap()].contains("<code>VALIDATION</code>"),
        "{form}"
    );

    // A subscription started and an invoice drafted from the account's page: an id from
    // the catalog, a list of objects written as JSON.
    let plans = app.graphql("{ plans { id code } }", json!({})).await;
    let plan = plans["data"]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "starter")
        .expect("the starter plan")["id"]
        .as_str()
        .unwrap()
        .to_string();
    person
        .submit(
            &page,
            "startSubscription",
            &[
                ("planId", &plan),
                ("trialDays", ""),
                ("reason", "signed up"),
            ],
        )
        .await;
    let lines = r#"[{ "kind": "MANUAL", "description": "Onboarding", "unitPriceMinor": 5000 }]"#;
    person
        .submit(
            &page,
            "draftInvoice",
            &[
                ("currency", "USD"),
                ("lines", lines),
                ("reason", "workshop"),
            ],
        )
        .await;
    let books = app
        .graphql(
            "query($id: ID!) { subscriptions(filter: { accountId: $id }) { nodes { id } } \
             invoices(filter: { accountId: $id }, first: 10) { nodes { id subjectKind status totalMinor } } }",
            json!({ "id": account }),
        )
        .await;
    let subscription = books["data"]["subscriptions"]["nodes"][0]["id"]
        .as_str()
        .expect("subscribed")
        .to_string();
    let manual = books["data"]["invoices"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["subjectKind"].is_null())
        .unwrap_or_else(|| panic!("a manual invoice: {books}"));
    assert_eq!(
        (manual["status"].as_str(), manual["totalMinor"].as_i64()),
        (Some("DRAFT"), Some(5_000))
    );
    let invoice = format!("/invoices/{}", manual["id"].as_str().unwrap());

    // The invoice's page: a nested line (its quantity left to the default), then issued.
    let line = [
        ("line.kind", "MANUAL"),
        ("line.description", "Follow-up"),
        ("line.quantity", ""),
        ("line.unitPriceMinor", "2500"),
        ("reason", "one more session"),
    ];
    assert_eq!(
        person.submit(&invoice, "addInvoiceLine", &line).await,
        invoice
    );
    person
        .submit(
            &invoice,
            "issueInvoice",
            &[("dueAt", ""), ("reason", "send it")],
        )
        .await;
    let (status, _, shown) = person.get(&invoice).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        shown.contains("Follow-up") && shown.contains("75.00 USD"),
        "{shown}"
    );
    assert!(
        form_of(&shown, "markInvoicePaid").is_some(),
        "a pending invoice may be paid: {shown}"
    );
    assert!(
        form_of(&shown, "issueInvoice").is_none(),
        "nor issued twice: {shown}"
    );
    assert!(shown.contains("InvoiceIssued"), "its history: {shown}");

    // The subscription's and a payment's pages, with what their status allows.
    let (status, _, shown) = person.get(&format!("/subscriptions/{subscription}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(form_of(&shown, "cancelSubscription").is_some(), "{shown}");
    person
        .submit(
            &page,
            "recordPayment",
            &[
                ("amountMinor", "1000"),
                ("currency", "USD"),
                ("credits", "10"),
                ("method", "WIRE"),
                ("reference", "W-1"),
            ],
        )
        .await;
    let payments = app
        .graphql(
            "query($id: ID!) { payments(filter: { accountId: $id }) { nodes { id } } }",
            json!({ "id": account }),
        )
        .await;
    let payment = format!(
        "/payments/{}",
        payments["data"]["payments"]["nodes"][0]["id"]
            .as_str()
            .expect("recorded")
    );
    let before = balance(&app, &account).await;
    person.submit(&payment, "approvePayment", &[]).await;
    assert_eq!(
        balance(&app, &account).await,
        before + 10,
        "the payment's credits"
    );
    let (_, _, shown) = person.get(&payment).await;
    assert!(
        form_of(&shown, "refundPayment").is_some() && form_of(&shown, "approvePayment").is_none(),
        "{shown}"
    );

    // A Support Agent reads the same pages without one of these forms.
    let agent = staff_in_group(&app, "agent@example.com", "Support Agent").await;
    let mut support = Person::new(&app);
    support.sign_in(&agent).await;
    let (status, _, shown) = support.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    for mutation in [
        "renameAccount",
        "recordPayment",
        "draftInvoice",
        "deleteAccount",
    ] {
        assert!(
            form_of(&shown, mutation).is_none(),
            "a Support Agent is not offered {mutation}"
        );
    }

    // An alert rule defined from the dashboard: nested inputs as fieldsets.
    let rule = [
        ("rule.name", "Payments waiting"),
        ("rule.condition.kind", "PENDING_PAYMENTS"),
        ("rule.condition.days", "3"),
        ("rule.severity", "WARNING"),
        ("reason", "a queue to watch"),
    ];
    person.submit("/", "defineAlertRule", &rule).await;
    let rules = app
        .graphql("{ alertRules { name condition { kind days } } }", json!({}))
        .await;
    assert!(
        rules["data"]["alertRules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Payments waiting" && r["condition"]["days"] == 3),
        "{rules}"
    );
    let (_, _, dashboard) = person.get("/").await;
    assert!(
        dashboard.contains("Payments waiting") && form_of(&dashboard, "disableAlertRule").is_some(),
        "{dashboard}"
    );

    // The dashboard's alerts follow the server's events, for those who may read them.
    let live = person
        .http
        .get(app.url("/live/alerts"))
        .header(COOKIE, person.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    let (status, _, _) = support.get("/live/alerts").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a Support Agent has no insight.read"
    );
}

#[tokio::test]
async fn a_session_ends_after_two_idle_hours_or_twelve_in_all() {
    let app = TestApp::spawn().await;
    let mut person = Person::new(&app);
    person.sign_in(&app.token).await;
    // Time passes in the sessions' own columns: the server compares them with the clock.
    let age = |sql: &'static str| {
        let pool = app.db.pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.unwrap() }
    };

    // Each page moves the idle expiry on.
    age("UPDATE console.sessions SET expires_at = now() + interval '1 minute'").await;
    assert_eq!(person.get("/accounts").await.0, StatusCode::OK);
    let moved: bool = sqlx::query_scalar(
        "SELECT expires_at > now() + interval '119 minutes' FROM console.sessions",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(moved, "a page keeps the session two more hours");

    // Two hours without a page: the session is over, and the sign-in page says so.
    age("UPDATE console.sessions SET expires_at = now() - interval '1 second'").await;
    let (status, location, _) = person.get("/accounts").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(
        location.starts_with("/sign-in?") && location.contains("ended=expired"),
        "{location}"
    );
    let (_, _, page) = person.get(&location).await;
    assert!(page.contains("Your session has ended"), "{page}");

    // However busy, a session lasts twelve hours from its sign-in.
    person.sign_in(&app.token).await;
    age(
        "UPDATE console.sessions SET created_at = now() - interval '12 hours 1 second' \
         WHERE expires_at > now()",
    )
    .await;
    let (status, location, _) = person.get("/accounts").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the twelfth hour is the last"
    );
    assert!(location.unwrap().contains("ended=expired"));

    // A form of an ended session does nothing.
    let events = crate::accounts::event_count(&app).await;
    let (status, _, _) = person
        .post(
            "/act",
            &[
                ("_csrf", "x"),
                ("_mutation", "openAccount"),
                ("name", "Late"),
            ],
        )
        .await;
    assert!(
        status == StatusCode::SEE_OTHER || status == StatusCode::FORBIDDEN,
        "{status}"
    );
    assert_eq!(crate::accounts::event_count(&app).await, events);
}
