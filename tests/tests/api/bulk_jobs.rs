//! Bulk jobs: more than 500 ids, or a list's filter, run in the background as a job that
//! records every item's result, can be followed live and cancelled, and resumes without doing
//! anything twice.

use crate::access_matrix::staff_in_group;
use crate::accounts::{account, event_count, open_account};
use crate::helpers::{error_code, eventually, subscribe, websocket, TestApp};
use crate::payments::record_payment;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const JOB: &str = "id list action status total processed done noOp refused filter \
                   startedAt endedAt cancelReason cancelledBy runAsId";

async fn bulk_as(app: &TestApp, token: &str, input: Value) -> Value {
    app.graphql_as(
        Some(token),
        &format!(
            "mutation($input: BulkPaymentInput!) {{ bulkPaymentAction(input: $input) {{ \
               bulkKey done items {{ id }} job {{ {JOB} }} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
    .1
}

/// Starts a payment job as `token` and answers the job.
async fn start_as(app: &TestApp, token: &str, input: Value) -> Value {
    let body = bulk_as(app, token, input).await;
    assert!(body["errors"].is_null(), "{body}");
    let result = &body["data"]["bulkPaymentAction"];
    assert_eq!(
        result["items"],
        json!([]),
        "a job answers no items: {result}"
    );
    assert!(result["job"].is_object(), "{result}");
    result["job"].clone()
}

async fn job_as(app: &TestApp, token: &str, id: &str) -> Value {
    let (_, body) = app
        .graphql_as(
            Some(token),
            &format!("query($id: ID!) {{ bulkJob(id: $id) {{ {JOB} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["bulkJob"].clone()
}

/// Job `id` once no runner holds it any more and its read model shows its last event: where a
/// cancelled job stopped, after the chunk that was under way is recorded.
async fn settled(app: &TestApp, id: &str) -> Value {
    let key = format!("igny8:bulk-job:{id}");
    let released = eventually(Duration::from_secs(60), || async {
        let mut connection = app.db.pool.acquire().await.unwrap();
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(&key)
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        if free {
            sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                .bind(&key)
                .execute(&mut *connection)
                .await
                .unwrap();
        }
        free
    })
    .await;
    assert!(released, "the runner lets go of job {id}");
    let last: i64 = sqlx::query_scalar("SELECT max(position) FROM events WHERE aggregate_id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let applied = eventually(Duration::from_secs(60), || async {
        let (_, body) = app
            .graphql_as(
                Some(&app.token),
                "query($id: ID!) { bulkJob(id: $id) { position } }",
                json!({ "id": id }),
            )
            .await;
        body["data"]["bulkJob"]["position"].as_i64() == Some(last)
    })
    .await;
    assert!(applied, "the read model shows the job's last event, {last}");
    job_as(app, &app.token, id).await
}

/// The job once it has ended (completed or cancelled).
async fn ended(app: &TestApp, id: &str) -> Value {
    let over = eventually(Duration::from_secs(60), || async {
        job_as(app, &app.token, id).await["status"] != "RUNNING"
    })
    .await;
    let last = job_as(app, &app.token, id).await;
    assert!(over, "the job ends: {last}");
    last
}

async fn items(app: &TestApp, id: &str, outcome: Option<&str>) -> Value {
    let body = app
        .graphql(
            "query($id: ID!, $outcome: BulkOutcome) { bulkJob(id: $id) { \
               items(first: 100, outcome: $outcome) { totalCount \
                 edges { node { id outcome code message position replayed } } } } }",
            json!({ "id": id, "outcome": outcome }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["bulkJob"]["items"].clone()
}

fn random_ids(n: usize) -> Vec<Value> {
    (0..n).map(|_| json!(Uuid::new_v4().to_string())).collect()
}

async fn my_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app
        .graphql_as(Some(token), "{ me { id } }", json!({}))
        .await;
    me["data"]["me"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn approving_by_filter_runs_as_a_job_that_grants_each_payment_once() {
    let app = TestApp::spawn().await;
    let buyer = open_account(&app, "job-buyer").await;
    let other = open_account(&app, "job-other").await;
    for n in 0..30 {
        record_payment(&app, &buyer, 1_000 + n, 10).await;
    }
    let untouched = record_payment(&app, &other, 1_000, 10).await;
    let filter = json!({ "status": ["PENDING"], "accountId": buyer });
    let input = json!({ "action": "APPROVE", "filter": filter, "reason": "wires arrived",
                        "bulkKey": "month-end" });

    let job = start_as(&app, &app.token, input.clone()).await;
    assert_eq!(job["total"], 30, "{job}");
    assert_eq!(job["list"], "payment");
    assert_eq!(job["action"], "payment-Approve");
    assert_eq!(job["filter"], filter, "the filter is kept as given");
    let id = job["id"].as_str().unwrap().to_string();

    let job = ended(&app, &id).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(
        (
            job["processed"].clone(),
            job["done"].clone(),
            job["refused"].clone()
        ),
        (json!(30), json!(30), json!(0))
    );
    assert!(job["endedAt"].is_string());
    let results = items(&app, &id, None).await;
    assert_eq!(results["totalCount"], 30);
    let edges = results["edges"].as_array().unwrap();
    assert!(
        edges.iter().all(|e| e["node"]["outcome"] == "DONE"),
        "{results}"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            account(&app, &buyer).await["balance"] == 300
        })
        .await,
        "thirty grants of 10 credits, each once"
    );
    let (_, other_payment) = app
        .graphql_as(
            Some(&app.token),
            "query($id: ID!) { payment(id: $id) { status } }",
            json!({ "id": untouched }),
        )
        .await;
    assert_eq!(other_payment["data"]["payment"]["status"], "PENDING");

    // Every approval is the operator's, tied to the job for the auditors.
    let root = my_id(&app, &app.token).await;
    let (approvals, by_root): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE metadata ->> 'actor_id' = $2) FROM events \
         WHERE event_type = 'PaymentApproved' AND metadata ->> 'correlation_id' = $1",
    )
    .bind(&id)
    .bind(&root)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((approvals, by_root), (30, 30));

    // The same request again finds the same job and appends nothing.
    let before = event_count(&app).await;
    let again = start_as(&app, &app.token, input.clone()).await;
    assert_eq!(again["id"], json!(id));
    assert_eq!(again["status"], "COMPLETED");
    assert_eq!(
        event_count(&app).await,
        before,
        "a retried job appends nothing"
    );

    // The key names one request: other items under it are a conflict.
    let body = bulk_as(
        &app,
        &app.token,
        json!({ "action": "APPROVE", "ids": random_ids(501), "reason": "x", "bulkKey": "month-end" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");

    // The job's books rebuilt from the log are the books built as it ran.
    let books = || async {
        let mut rows = Vec::new();
        for table in ["bulk_jobs", "bulk_job_items"] {
            let table: Vec<String> =
                sqlx::query_scalar(&format!("SELECT t::text FROM read.{table} t ORDER BY 1"))
                    .fetch_all(&app.db.pool)
                    .await
                    .unwrap();
            rows.push(table);
        }
        rows
    };
    let incremental = books().await;
    assert_eq!(incremental[1].len(), 30);
    let (_, engine) = api::startup::open(&app.db.settings()).await.unwrap();
    engine.rebuild("bulk_jobs").await.unwrap();
    assert_eq!(books().await, incremental);
}

#[tokio::test]
async fn more_than_500_ids_run_as_a_job_answering_each_item() {
    let app = TestApp::spawn().await;
    let buyer = open_account(&app, "job-many").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(json!(record_payment(&app, &buyer, 2_000 + n, 5).await));
    }
    ids.extend(random_ids(600));
    let input = json!({ "action": "APPROVE", "ids": ids, "reason": "r", "bulkKey": "k-603" });
    let job = start_as(&app, &app.token, input).await;
    assert_eq!(job["total"], 603);
    assert_eq!(job["filter"], Value::Null);
    let job = ended(&app, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            job["status"].clone(),
            job["done"].clone(),
            job["refused"].clone()
        ),
        (json!("COMPLETED"), json!(3), json!(600)),
        "{job}"
    );
    let refused = items(&app, job["id"].as_str().unwrap(), Some("REFUSED")).await;
    assert_eq!(refused["totalCount"], 600);
    let first = &refused["edges"][0]["node"];
    assert_eq!(first["code"], "NOT_FOUND", "{first}");
    assert!(first["message"].as_str().unwrap().contains("payment"));

    // Mistakes in the request are the request's, before any job starts.
    let before = event_count(&app).await;
    let mut bad = random_ids(600);
    bad.push(json!("not-an-id"));
    let cases = [
        json!({ "action": "APPROVE", "ids": bad, "reason": "r", "bulkKey": "k2" }),
        json!({ "action": "APPROVE", "reason": "r", "bulkKey": "k3" }),
        json!({ "action": "APPROVE", "ids": random_ids(2), "filter": {}, "reason": "r", "bulkKey": "k4" }),
        json!({ "action": "APPROVE", "filter": { "accountId": Uuid::new_v4() }, "reason": "r", "bulkKey": "k5" }),
        json!({ "action": "APPROVE", "ids": random_ids(50_001), "reason": "r", "bulkKey": "k6" }),
    ];
    for input in cases {
        let body = bulk_as(&app, &app.token, input).await;
        assert!(
            ["VALIDATION", "PAYLOAD_TOO_LARGE"].contains(&error_code(&body).unwrap_or("")),
            "{body}"
        );
    }
    assert_eq!(
        event_count(&app).await,
        before,
        "refused requests append nothing"
    );
}

#[tokio::test]
async fn a_job_is_seen_and_cancelled_by_its_owner_or_a_superuser_only() {
    let app = TestApp::spawn().await;
    let owner = staff_in_group(&app, "billing-1@example.com", "Billing Administrator").await;
    let colleague = staff_in_group(&app, "billing-2@example.com", "Billing Administrator").await;
    let support = staff_in_group(&app, "support@example.com", "Support Agent").await;
    let input = json!({ "action": "REJECT", "ids": random_ids(20_000), "reason": "stale",
                        "bulkKey": "big" });
    let job = start_as(&app, &owner, input).await;
    let id = job["id"].as_str().unwrap().to_string();

    assert_eq!(
        job_as(&app, &colleague, &id).await,
        Value::Null,
        "not theirs"
    );
    let cancel = "mutation($input: CancelBulkJobInput!) { cancelBulkJob(input: $input) { \
                    position job { status processed total cancelReason } } }";
    let input = json!({ "input": { "jobId": id, "reason": "wrong list" } });
    let (_, body) = app
        .graphql_as(Some(&colleague), cancel, input.clone())
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let (_, body) = app.graphql_as(Some(&support), cancel, input.clone()).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let (_, listed) = app
        .graphql_as(Some(&colleague), "{ bulkJobs { totalCount } }", json!({}))
        .await;
    assert_eq!(listed["data"]["bulkJobs"]["totalCount"], 0, "{listed}");

    let (_, body) = app.graphql_as(Some(&owner), cancel, input.clone()).await;
    assert!(body["errors"].is_null(), "{body}");
    let cancelled = &body["data"]["cancelBulkJob"]["job"];
    assert_eq!(cancelled["status"], "CANCELLED", "{body}");
    assert_eq!(cancelled["cancelReason"], "wrong list");

    // Items under way when it was cancelled are recorded; nothing after them runs.
    let settled = settled(&app, &id).await;
    // Room for a runner that wrongly took the job up again to show itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = job_as(&app, &app.token, &id).await;
    assert_eq!(later, settled, "a cancelled job stays where it stopped");
    assert!(later["processed"].as_i64().unwrap() < 20_000, "{later}");
    assert!(later["cancelledBy"]
        .as_str()
        .unwrap()
        .starts_with("operator:"));

    // Cancelling again changes nothing; the superuser sees everyone's jobs.
    let (_, again) = app.graphql_as(Some(&owner), cancel, input).await;
    assert!(again["errors"].is_null(), "{again}");
    assert_eq!(again["data"]["cancelBulkJob"]["position"], Value::Null);
    let (_, listed) = app
        .graphql_as(
            Some(&app.token),
            "{ bulkJobs(filter: { status: [CANCELLED] }) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["bulkJobs"]["edges"][0]["node"]["id"],
        json!(id)
    );
}

#[tokio::test]
async fn a_subscriber_follows_a_job_to_its_end() {
    let app = TestApp::spawn().await;
    let input = json!({ "action": "REFUND", "ids": random_ids(1_500), "reason": "r",
                        "bulkKey": "followed" });
    let job = start_as(&app, &app.token, input).await;
    let id = job["id"].as_str().unwrap().to_string();

    let mut socket = websocket(&app, Some(&app.token)).await;
    let query = format!("subscription {{ bulkJobProgress(id: \"{id}\") {{ status processed }} }}");
    subscribe(&mut socket, &query).await;

    let mut seen: Vec<Value> = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("progress arrives");
        let Some(Ok(Message::Text(text))) = message else {
            panic!("the socket closed: {message:?}");
        };
        let message: Value = serde_json::from_str(&text).unwrap();
        match message["type"].as_str() {
            Some("next") => seen.push(message["payload"]["data"]["bulkJobProgress"].clone()),
            Some("complete") => break,
            Some("connection_ack") => {}
            _ => panic!("unexpected {message}"),
        }
    }
    let last = seen.last().expect("at least the job as it stood");
    assert_eq!(last["status"], "COMPLETED", "{seen:?}");
    assert_eq!(last["processed"], 1_500);
    let processed: Vec<i64> = seen
        .iter()
        .map(|s| s["processed"].as_i64().unwrap())
        .collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "{processed:?}");
}

#[tokio::test]
async fn items_done_before_a_crash_are_not_done_again_when_the_job_runs() {
    let app = TestApp::spawn().await;
    let buyer = open_account(&app, "job-crash").await;
    let mut payments = Vec::new();
    for n in 0..5 {
        payments.push(record_payment(&app, &buyer, 3_000 + n, 7).await);
    }
    // A runner that carried out the first three items and died before recording them: the
    // same commands under the items' idempotency keys, as the operator.
    let root = my_id(&app, &app.token).await;
    let actor = domain::Actor::new(domain::ActorKind::Operator, root.clone());
    for payment in &payments[..3] {
        let context = projections::CommandContext::new(actor.clone())
            .with_reason("r")
            .with_idempotency_key(format!("bulk:crash:payment-Approve:{payment}"));
        app.db
            .bus()
            .execute::<domain::billing::payment::Payment>(
                payment,
                domain::billing::payment::PaymentCommand::Approve {
                    approver: root.clone(),
                },
                &context,
            )
            .await
            .unwrap();
    }
    let input = json!({ "action": "APPROVE", "filter": { "accountId": buyer }, "reason": "r",
                        "bulkKey": "crash" });
    let job = start_as(&app, &app.token, input).await;
    let id = job["id"].as_str().unwrap().to_string();
    let job = ended(&app, &id).await;
    assert_eq!(
        (job["done"].clone(), job["total"].clone()),
        (json!(5), json!(5))
    );
    let replayed: Vec<bool> = items(&app, &id, None).await["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["replayed"].as_bool().unwrap())
        .collect();
    assert_eq!(replayed.iter().filter(|r| **r).count(), 3, "{replayed:?}");
    let approvals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'PaymentApproved'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(approvals, 5, "each payment approved once");
    assert!(
        eventually(Duration::from_secs(10), || async {
            account(&app, &buyer).await["balance"] == 35
        })
        .await
    );
}

#[tokio::test]
async fn a_job_stops_when_its_person_loses_the_permission_it_needs() {
    let app = TestApp::spawn().await;
    let owner = staff_in_group(&app, "billing-3@example.com", "Billing Administrator").await;
    let input = json!({ "action": "REJECT", "ids": random_ids(20_000), "reason": "stale",
                        "bulkKey": "revoked" });
    let job = start_as(&app, &owner, input).await;
    let id = job["id"].as_str().unwrap().to_string();
    let groups = app
        .graphql("{ permissionGroups { id name } }", json!({}))
        .await;
    let group = groups["data"]["permissionGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Billing Administrator")
        .unwrap()["id"]
        .clone();
    let removed = app
        .graphql(
            "mutation($input: GroupMemberInput!) { removeGroupMember(input: $input) { position } }",
            json!({ "input": { "groupId": group, "operatorId": my_id(&app, &owner).await,
                               "reason": "left the billing team" } }),
        )
        .await;
    assert!(removed["errors"].is_null(), "{removed}");
    let job = ended(&app, &id).await;
    assert_eq!(job["status"], "CANCELLED", "{job}");
    assert!(job["processed"].as_i64().unwrap() < 20_000, "{job}");
    assert!(
        job["cancelReason"]
            .as_str()
            .unwrap()
            .contains("payments.approve"),
        "{job}"
    );
    assert_eq!(job["cancelledBy"], "system:bulk-jobs");
}
