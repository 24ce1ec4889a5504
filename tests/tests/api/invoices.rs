//! Invoices: drafted, issued with gap-free yearly numbers (also under concurrent issuing), and
//! their statuses; filters; and what tenants see.

use crate::access_matrix::platform_user_token;
use crate::accounts::{event_count, open_account};
use crate::helpers::{error_code, TestApp};
use chrono::Datelike;
use serde_json::{json, Value};

const INVOICE: &str = "invoice { id number status totalMinor currency remindersSent overdue \
    lines { lineNo kind quantity unitPriceMinor amountMinor } } position caughtUp";

async fn call_as(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "draftInvoice" => "DraftInvoiceInput",
        "addInvoiceLine" => "AddInvoiceLineInput",
        "issueInvoice" => "IssueInvoiceInput",
        _ => "InvoiceInput",
    };
    app.graphql_as(
        Some(token),
        &format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {INVOICE} }} }}"),
        json!({ "input": input }),
    )
    .await
    .1
}

async fn must(app: &TestApp, mutation: &str, input: Value) -> Value {
    let body = call_as(app, &app.token, mutation, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation].clone()
}

async fn refused(app: &TestApp, mutation: &str, input: Value, code: &str) {
    let before = event_count(app).await;
    let body = call_as(app, &app.token, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
}

/// Drafts an invoice of one manual line of `amount` for `account`; its id.
async fn draft(app: &TestApp, account: &str, amount: i64) -> String {
    let drafted = must(
        app,
        "draftInvoice",
        json!({
            "accountId": account, "currency": "USD", "reason": "consulting",
            "lines": [{ "kind": "MANUAL", "description": "Onboarding workshop", "unitPriceMinor": amount }],
        }),
    )
    .await;
    drafted["invoice"]["id"].as_str().unwrap().to_string()
}

fn number(sequence: i64) -> String {
    format!("INV-{}-{sequence:06}", chrono::Utc::now().year())
}

#[tokio::test]
async fn an_invoice_is_drafted_issued_with_the_next_number_and_then_only_changes_status() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "billed").await;
    let id = draft(&app, &account, 25_000).await;
    let added = must(
        &app,
        "addInvoiceLine",
        json!({ "invoiceId": id, "reason": "travel", "line": {
            "kind": "MANUAL", "description": "Travel", "quantity": 2, "unitPriceMinor": 4_000 } }),
    )
    .await;
    assert_eq!(added["invoice"]["status"], "DRAFT");
    assert_eq!(added["invoice"]["number"], Value::Null);
    assert_eq!(added["invoice"]["totalMinor"], 33_000);

    let issued = must(
        &app,
        "issueInvoice",
        json!({ "invoiceId": id, "reason": "month end" }),
    )
    .await;
    let invoice = &issued["invoice"];
    assert_eq!(invoice["status"], "PENDING", "{issued}");
    assert_eq!(invoice["number"], number(1));
    assert_eq!(invoice["overdue"], false);
    assert_eq!(
        invoice["lines"],
        json!([
            { "lineNo": 1, "kind": "MANUAL", "quantity": 1, "unitPriceMinor": 25_000, "amountMinor": 25_000 },
            { "lineNo": 2, "kind": "MANUAL", "quantity": 2, "unitPriceMinor": 4_000, "amountMinor": 8_000 },
        ])
    );
    // Issuing again changes nothing; an issued invoice never changes.
    let again = must(
        &app,
        "issueInvoice",
        json!({ "invoiceId": id, "reason": "again" }),
    )
    .await;
    assert_eq!(again["position"], Value::Null);
    assert_eq!(again["invoice"]["number"], number(1));
    refused(
        &app,
        "addInvoiceLine",
        json!({ "invoiceId": id, "reason": "late", "line": { "kind": "MANUAL", "description": "x", "unitPriceMinor": 1 } }),
        "CONFLICT",
    )
    .await;

    let input = json!({ "invoiceId": id, "reason": "cheque received" });
    assert_eq!(
        must(&app, "markInvoicePaid", input.clone()).await["invoice"]["status"],
        "PAID"
    );
    assert_eq!(
        must(&app, "markInvoicePaid", input.clone()).await["position"],
        Value::Null
    );
    refused(&app, "cancelInvoice", input.clone(), "CONFLICT").await;
    assert_eq!(
        must(&app, "markInvoicePending", input.clone()).await["invoice"]["status"],
        "PENDING"
    );
    let reminded = must(&app, "sendInvoiceReminder", input.clone()).await;
    assert_eq!(reminded["invoice"]["remindersSent"], 1);
    let twice = must(&app, "sendInvoiceReminder", input.clone()).await;
    assert_eq!(twice["position"], Value::Null, "one reminder a day");
    assert_eq!(twice["invoice"]["remindersSent"], 1);
    assert_eq!(
        must(&app, "voidInvoice", input.clone()).await["invoice"]["status"],
        "VOID"
    );
    refused(&app, "markInvoicePaid", input.clone(), "CONFLICT").await;
    refused(&app, "sendInvoiceReminder", input, "CONFLICT").await;

    // The next invoice of the year takes the next number; a cancelled draft takes none.
    let dropped = draft(&app, &account, 100).await;
    let dropped_input = json!({ "invoiceId": dropped, "reason": "not needed" });
    assert_eq!(
        must(&app, "cancelInvoice", dropped_input.clone()).await["invoice"]["status"],
        "CANCELLED"
    );
    refused(&app, "issueInvoice", dropped_input, "CONFLICT").await;
    let next = draft(&app, &account, 100).await;
    let issued = must(
        &app,
        "issueInvoice",
        json!({ "invoiceId": next, "reason": "x" }),
    )
    .await;
    assert_eq!(issued["invoice"]["number"], number(2));
}

#[tokio::test]
async fn bad_invoice_input_is_refused_whole() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "careful").await;
    let line = |price: i64, quantity: i64, kind: &str| json!({ "kind": kind, "description": "Work", "quantity": quantity, "unitPriceMinor": price });
    let draft_with = |lines: Value, currency: &str| json!({ "accountId": account, "currency": currency, "reason": "x", "lines": lines });
    for input in [
        draft_with(json!([line(-100, 1, "MANUAL")]), "USD"),
        draft_with(json!([line(100, 0, "MANUAL")]), "USD"),
        draft_with(json!([line(100, 1, "MANUAL")]), "usd"),
        draft_with(
            json!([{ "kind": "MANUAL", "description": " ", "unitPriceMinor": 1 }]),
            "USD",
        ),
        json!({ "accountId": account, "currency": "USD", "reason": " ", "lines": [] }),
    ] {
        refused(&app, "draftInvoice", input, "VALIDATION").await;
    }
    refused(
        &app,
        "draftInvoice",
        json!({ "accountId": "00000000-0000-0000-0000-00000000000a", "currency": "USD", "reason": "x", "lines": [] }),
        "NOT_FOUND",
    )
    .await;
    // A draft with nothing to pay, or with a credit larger than its charges, is not issued.
    let empty = must(&app, "draftInvoice", draft_with(json!([]), "USD")).await;
    let empty_id = empty["invoice"]["id"].clone();
    refused(
        &app,
        "issueInvoice",
        json!({ "invoiceId": empty_id, "reason": "x" }),
        "VALIDATION",
    )
    .await;
    let credit = must(
        &app,
        "draftInvoice",
        draft_with(
            json!([line(100, 1, "MANUAL"), line(-500, 1, "PRORATION")]),
            "USD",
        ),
    )
    .await;
    let credit_id = credit["invoice"]["id"].clone();
    refused(
        &app,
        "issueInvoice",
        json!({ "invoiceId": credit_id, "reason": "x" }),
        "VALIDATION",
    )
    .await;
    refused(
        &app,
        "issueInvoice",
        json!({ "invoiceId": credit_id, "reason": "x", "dueAt": "1970-01-01T00:00:00Z" }),
        "VALIDATION",
    )
    .await;
    refused(
        &app,
        "markInvoicePaid",
        json!({ "invoiceId": "00000000-0000-0000-0000-00000000000b", "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issuing_yields_gap_free_unique_numbers() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "busy").await;
    let mut ids = Vec::new();
    for n in 0..24 {
        ids.push(draft(&app, &account, 1_000 + n).await);
    }
    // Every invoice issued at once, and one of them eight more times.
    let mut requests: Vec<String> = ids.clone();
    requests.extend(std::iter::repeat_n(ids[0].clone(), 8));
    let answers = futures::future::join_all(requests.iter().map(|id| {
        call_as(
            &app,
            &app.token,
            "issueInvoice",
            json!({ "invoiceId": id, "reason": "month end" }),
        )
    }))
    .await;
    for body in &answers {
        assert!(body["errors"].is_null(), "{body}");
    }
    let body = app
        .graphql(
            "{ invoices(first: 100, sort: { field: NUMBER, direction: ASC }) { totalCount nodes { id number status } } }",
            json!({}),
        )
        .await;
    let nodes = body["data"]["invoices"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let numbers: Vec<String> = nodes
        .iter()
        .map(|n| n["number"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=24).map(number).collect();
    assert_eq!(numbers, expected, "1 to 24, each once");
    assert!(nodes.iter().all(|n| n["status"] == "PENDING"));
    let assigned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'InvoiceNumberAssigned'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(assigned, 24, "the register numbered each invoice once");
}

#[tokio::test]
async fn the_invoice_list_filters_and_tenants_see_their_own_invoices_only() {
    let app = TestApp::spawn().await;
    let mine = open_account(&app, "tenant-mine").await;
    let theirs = open_account(&app, "tenant-theirs").await;
    let small = draft(&app, &mine, 500).await;
    let large = draft(&app, &mine, 90_000).await;
    let other = draft(&app, &theirs, 7_000).await;
    for id in [&small, &large, &other] {
        must(
            &app,
            "issueInvoice",
            json!({ "invoiceId": id, "reason": "x" }),
        )
        .await;
    }
    must(
        &app,
        "markInvoicePaid",
        json!({ "invoiceId": small, "reason": "cash" }),
    )
    .await;
    // Overdue: pending past its due date. The test states the dates (no waiting for a clock).
    let overdue = draft(&app, &theirs, 3_000).await;
    let now = chrono::Utc::now();
    let request = domain::billing::invoice::InvoiceCommand::RequestIssue {
        issued_at: now - chrono::Duration::days(20),
        due_at: now - chrono::Duration::days(6),
    };
    let context = projections::CommandContext::new(domain::Actor::system("test"));
    app.db
        .bus()
        .execute::<domain::billing::invoice::Invoice>(&overdue, request, &context)
        .await
        .unwrap();
    let issued = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let body = app
            .graphql(
                "query($id: ID!) { invoice(id: $id) { status } }",
                json!({ "id": overdue }),
            )
            .await;
        body["data"]["invoice"]["status"] == "PENDING"
    })
    .await;
    assert!(issued, "the issuing process numbered it");

    let ids = |filter: Value| {
        let app = &app;
        async move {
            let body = app
                .graphql(
                    "query($f: InvoiceFilter) { invoices(filter: $f, sort: { field: TOTAL, direction: ASC }) { totalCount nodes { id } } }",
                    json!({ "f": filter }),
                )
                .await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["invoices"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(json!({ "status": ["PAID"] })).await, [small.as_str()]);
    assert_eq!(
        ids(json!({ "accountId": mine })).await,
        [small.clone(), large.clone()]
    );
    assert_eq!(
        ids(json!({ "total": { "min": 1_000, "max": 10_000 } })).await,
        [overdue.clone(), other.clone()]
    );
    assert_eq!(ids(json!({ "overdue": true })).await, [overdue.as_str()]);
    assert_eq!(ids(json!({ "number": number(2) })).await, [large.as_str()]);
    let body = app
        .graphql(
            "{ invoices(filter: { total: { min: 5, max: 1 } }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");

    let owner = platform_user_token(&app, &mine, "owner").await;
    let (_, body) = app
        .graphql_as(
            Some(&owner),
            "{ invoices { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["invoices"]["totalCount"], 2, "{body}");
    let (_, body) = app
        .graphql_as(
            Some(&owner),
            "query($id: ID!) { invoice(id: $id) { id } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(body["data"]["invoice"], Value::Null, "{body}");
    let body = call_as(
        &app,
        &owner,
        "markInvoicePaid",
        json!({ "invoiceId": large, "reason": "mine" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
}

/// A draft of `amount` issued a month ago and due ten days ago, as billing issues invoices with
/// their own dates; numbered by the process manager. Its id.
pub(crate) async fn overdue_invoice(app: &TestApp, account: &str, amount: i64) -> String {
    use domain::billing::invoice::{Invoice, InvoiceCommand};
    let id = draft(app, account, amount).await;
    let now = chrono::Utc::now();
    let issue = InvoiceCommand::RequestIssue {
        issued_at: now - chrono::Duration::days(30),
        due_at: now - chrono::Duration::days(10),
    };
    let context = projections::CommandContext::new(domain::Actor::system("test"));
    app.db
        .bus()
        .execute::<Invoice>(&id, issue, &context)
        .await
        .unwrap();
    let numbered = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        let body = app
            .graphql(
                "query($id: ID!) { invoice(id: $id) { number } }",
                json!({ "id": id }),
            )
            .await;
        body["data"]["invoice"]["number"].is_string()
    })
    .await;
    assert!(numbered, "the invoice is numbered");
    id
}

#[tokio::test]
async fn a_late_fee_is_charged_by_hand_once_and_only_on_an_overdue_invoice() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "late-payer").await;
    let overdue = overdue_invoice(&app, &account, 10_000).await;
    let charged = must(
        &app,
        "applyLateFee",
        json!({ "invoiceId": overdue, "reason": "ten days late" }),
    )
    .await;
    assert!(charged["position"].is_number(), "{charged}");

    // Dunning takes it from there: a LATE_FEE invoice of 5% of the total, numbered.
    let fee = || async {
        let body = app
            .graphql(
                "query($account: ID!) { invoices(filter: { accountId: $account }) { \
                   edges { node { id number totalMinor subjectKind subjectId } } } }",
                json!({ "account": account }),
            )
            .await;
        body["data"]["invoices"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .filter(|n| n["subjectKind"] == "late_fee" && n["number"].is_string())
            .collect::<Vec<Value>>()
    };
    assert!(
        crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
            fee().await.len() == 1
        })
        .await,
        "one late-fee invoice is issued"
    );
    let fee = fee().await.remove(0);
    assert_eq!(fee["totalMinor"], 500, "{fee}");
    assert_eq!(fee["subjectId"], json!(overdue));

    // Once: again by hand, or in bulk, records nothing.
    let before = event_count(&app).await;
    let again = must(
        &app,
        "applyLateFee",
        json!({ "invoiceId": overdue, "reason": "again" }),
    )
    .await;
    assert_eq!(again["position"], Value::Null, "{again}");
    assert_eq!(event_count(&app).await, before);

    // Not before it is due, nor on the fee itself.
    let current = draft(&app, &account, 2_000).await;
    must(
        &app,
        "issueInvoice",
        json!({ "invoiceId": current, "reason": "monthly" }),
    )
    .await;
    refused(
        &app,
        "applyLateFee",
        json!({ "invoiceId": current, "reason": "too early" }),
        "CONFLICT",
    )
    .await;
    let body = app
        .graphql(
            "mutation($input: BulkInvoiceInput!) { bulkInvoiceAction(input: $input) { \
               done noOp refused items { outcome code } } }",
            json!({ "input": { "action": "APPLY_LATE_FEE", "bulkKey": "fees-1", "reason": "month end",
                               "ids": [overdue, current, fee["id"]] } }),
        )
        .await;
    let result = &body["data"]["bulkInvoiceAction"];
    assert_eq!(
        result["items"],
        json!([
            { "outcome": "NO_OP", "code": null },
            { "outcome": "REFUSED", "code": "CONFLICT" },
            { "outcome": "REFUSED", "code": "VALIDATION" },
        ]),
        "{body}"
    );
}
