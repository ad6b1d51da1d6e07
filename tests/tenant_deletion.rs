//! Deleting a whole company over the real server on both databases: scheduled after a grace
//! period (suspended at once, resumable only once called off), and when the time comes nothing
//! of it is left in any table or in the file store, while the other company keeps everything
//! and the installation's trail keeps that it was. (Part of the `realtime_api` test binary.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;
use tandem_core::clock::ManualClock;
use tandem_testkit::TestDatabase;

use crate::support::live::{Live, PLATFORM_TOKEN};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Every table with a `tenant_id` column, read from the database itself: a table added later
/// is checked too.
async fn rows_of(live: &Live, tenant: &str) -> Vec<(String, i64)> {
    let db = Database::connect(live.env.db.url())
        .await
        .expect("the database");
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.columns \
             WHERE column_name = 'tenant_id' AND table_schema = current_schema()"
        }
        _ => {
            "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'tenant_id'"
        }
    };
    let tables: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("the tables")
        .iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .collect();
    assert!(tables.len() > 25, "the tables with a tenant: {tables:?}");
    let id: uuid::Uuid = tenant.parse().expect("a tenant id");
    let mut found = Vec::new();
    for table in tables {
        let placeholder = if backend == DbBackend::Postgres {
            "$1"
        } else {
            "?"
        };
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = {placeholder}");
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await
            .expect("a count")
            .expect("a row");
        let n: i64 = row.try_get("", "n").expect("a number");
        found.push((table, n));
    }
    found
}

async fn a_deleted_company_leaves_nothing_behind((live, clock): (Live, ManualClock)) {
    let acme = live.acme.clone();
    let ivan = live.visitor(&acme).await;
    let chat = live
        .offline_request(&ivan, "Ivan Petrov", "ivan@example.org", "Hello")
        .await;
    let olga = live.online_operator(&acme, "Olga").await;
    live.operator_says(&olga, &chat, "Hello Ivan").await;
    let status = live
        .http
        .post(live.url(&format!("/api/v1/widget/{}/chat/files", ivan.key)))
        .query(&[("name", "notes.txt")])
        .bearer_auth(&ivan.token)
        .header("content-type", "application/octet-stream")
        .body("a text file".as_bytes().to_vec())
        .send()
        .await
        .expect("the server answers")
        .status();
    assert_eq!(status, StatusCode::CREATED, "the visitor sends a file");
    let acme_files = live.env.dir.path().join("files").join(&acme.id);
    assert!(acme_files.read_dir().is_ok_and(|mut d| d.next().is_some()));
    let globex_visitor = live.visitor(&live.globex).await;
    live.visitor_says(&globex_visitor, "Globex stays").await;
    let before = rows_of(&live, &acme.id).await;
    assert!(before.iter().any(|(_, n)| *n > 0), "{before:?}");

    // Scheduled: suspended at once, and not resumable while the deletion stands.
    let deletion = format!("/api/v1/platform/tenants/{}/deletion", acme.id);
    let (status, refused) = live
        .call(
            Method::POST,
            &deletion,
            Some(PLATFORM_TOKEN),
            Some(json!({ "grace_days": 400 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, _) = live
        .call(Method::POST, &deletion, Some(&acme.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an admin cannot");
    let (status, tenant) = live
        .call(
            Method::POST,
            &deletion,
            Some(PLATFORM_TOKEN),
            Some(json!({ "grace_days": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["suspended"], true);
    assert!(tenant["deletion_due_at"].is_string(), "{tenant}");
    let (status, _) = live.visitor_call(&ivan, Method::GET, "/config", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the widget is refused");
    let patch = format!("/api/v1/platform/tenants/{}", acme.id);
    let (status, refused) = live
        .call(
            Method::PATCH,
            &patch,
            Some(PLATFORM_TOKEN),
            Some(json!({ "suspended": false })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    // Called off, and scheduled again; nothing is deleted before its time.
    let (status, tenant) = live
        .call(Method::DELETE, &deletion, Some(PLATFORM_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert!(tenant["deletion_due_at"].is_null());
    let (status, _) = live
        .call(Method::DELETE, &deletion, Some(PLATFORM_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing to call off");
    let (status, _) = live
        .call(
            Method::POST,
            &deletion,
            Some(PLATFORM_TOKEN),
            Some(json!({ "grace_days": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let scheduled = rows_of(&live, &acme.id).await;
    let tandem = live.server.tandem();
    clock.advance(DAY - Duration::from_secs(60));
    let deleted = tandem.tenants.delete_due().await.expect("the housekeeping");
    assert!(deleted.tenants.is_empty(), "not before its time");
    // Nothing of it is gone (the day's digest of its alerts may have been written meanwhile).
    let kept = rows_of(&live, &acme.id).await;
    for ((table, before), (_, now)) in scheduled.iter().zip(&kept) {
        assert!(now >= before, "{table}: {before} rows, then {now}");
    }

    // Its time: nothing of Acme is left, in any table or in the file store.
    clock.advance(Duration::from_secs(120));
    let deleted = tandem.tenants.delete_due().await.expect("the housekeeping");
    assert_eq!(deleted.tenants.len(), 1);
    assert_eq!(deleted.tenants[0].to_string(), acme.id);
    tandem
        .files
        .purge_deleted()
        .await
        .expect("the store's removals");
    let left: Vec<(String, i64)> = rows_of(&live, &acme.id)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "rows left: {left:?}");
    assert!(
        acme_files
            .read_dir()
            .map_or(true, |mut d| d.next().is_none()),
        "files left in {}",
        acme_files.display()
    );
    let (status, _) = live.visitor_call(&ivan, Method::GET, "/config", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the widget key is unknown");
    let (_, tenants) = live
        .call(
            Method::GET,
            "/api/v1/platform/tenants",
            Some(PLATFORM_TOKEN),
            None,
        )
        .await;
    let slugs: Vec<&str> = tenants["tenants"]
        .as_array()
        .map(|all| all.iter().filter_map(|t| t["slug"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(slugs, vec!["globex"]);

    // The installation's trail keeps that it was; Acme's own trail went with it.
    let (_, trail) = live
        .call(
            Method::GET,
            "/api/v1/platform/audit?limit=5",
            Some(PLATFORM_TOKEN),
            None,
        )
        .await;
    let entry = &trail["entries"][0];
    assert_eq!(entry["action"], "tenant_deleted", "{trail}");
    assert_eq!(entry["target"]["id"], acme.id.as_str());
    assert!(entry["tenant_id"].is_null());
    assert_eq!(entry["actor"]["label"], "scheduled by the platform");
    let (_, trail) = live
        .call(
            Method::GET,
            &format!("/api/v1/platform/audit?tenant={}", acme.id),
            Some(PLATFORM_TOKEN),
            None,
        )
        .await;
    assert_eq!(trail["entries"], json!([]));

    // Globex keeps everything.
    let (status, theirs) = live
        .visitor_call(&globex_visitor, Method::GET, "/chat", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["messages"][0]["body"], "Globex stays");
    assert!(
        rows_of(&live, &live.globex.id)
            .await
            .iter()
            .any(|(_, n)| *n > 0)
    );
}

async fn served(db: TestDatabase) -> (Live, ManualClock) {
    Live::on_manual_clock(db, &[]).await
}

tandem_testkit::on_both_databases!(
    served =>
    a_deleted_company_leaves_nothing_behind,
);
