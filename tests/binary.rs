//! The `tandem` binary as a platform operator meets it: first run, tenant creation, migrations,
//! health, the API document and shutdown.

mod support;

use serde_json::Value;
use tandem_core::limits::Limits;
use tandem_core::{Ports, Tandem};

use support::Env;

async fn first_run_creates_the_demo_tenant_and_prints_its_login_once(env: Env) {
    let mut server = env.serve().await;
    let login = server.wait_for_line("Admin login").await;
    let password = login
        .split("password:")
        .nth(1)
        .expect("a password on the login line")
        .trim()
        .to_owned();
    assert!(
        login.contains("tenant: demo") && login.contains("email: admin@example.com"),
        "{login}"
    );
    assert!(server.stdout().contains("Widget key      wk_"));
    let key = server
        .stdout()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Widget key")
                .map(|k| k.trim().to_owned())
        })
        .expect("the widget key");

    let http = reqwest::Client::new();
    // The printed URLs open: the demo site carries the demo tenant's widget.
    let stdout = server.stdout();
    for page in ["/demo", "/app", "/admin"] {
        assert!(
            stdout.contains(&server.url(page)),
            "{page} is printed: {stdout}"
        );
        let response = http.get(server.url(page)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let html = response.text().await.unwrap();
        if page == "/demo" {
            assert!(html.contains(&format!("data-key=\"{key}\"")), "{html}");
        }
    }
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok", "database": "ok"})
    );
    let doc: Value = http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/healthz"]["get"].is_object());
    let missing = http.get(server.url("/no/such/path")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], "not_found");

    assert!(
        server.terminate().await.success(),
        "a clean exit on SIGTERM"
    );

    // The printed login really works.
    let db = tandem_core::database::connect(env.db.url()).await.unwrap();
    let tandem = Tandem::new(db, Ports::default(), Limits::default());
    tandem
        .operators
        .authenticate("demo", "admin@example.com", &password)
        .await
        .expect("the printed password logs in");

    // A second start finds its tenant and prints no new login.
    let server = env.serve().await;
    assert!(!server.stdout().contains("First run"));
    assert!(server.terminate().await.success());
    assert_eq!(tandem.tenants.count().await.unwrap(), 1);
}

async fn tenant_create_prints_one_json_object_and_refuses_bad_input(env: Env) {
    let out = env
        .run(&[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme Ltd",
            "--admin-email",
            "boss@acme.example",
        ])
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let created: Value =
        serde_json::from_str(out.stdout.trim()).expect("exactly one JSON object on stdout");
    assert_eq!(created["slug"], "acme");
    assert!(created["tenant_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        created["widget_key"]
            .as_str()
            .is_some_and(|s| s.starts_with("wk_"))
    );
    assert_eq!(created["admin"]["email"], "boss@acme.example");
    let password = created["admin"]["password"].as_str().unwrap().to_owned();

    let with_password = env
        .run(&[
            "tenant",
            "create",
            "--slug",
            "beta",
            "--name",
            "Beta",
            "--admin-email",
            "b@beta.example",
            "--admin-password",
            "chosen-password-1",
        ])
        .await;
    let beta: Value = serde_json::from_str(with_password.stdout.trim()).unwrap();
    assert_eq!(beta["admin"]["password"], "chosen-password-1");

    let dup = env
        .run(&[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Other",
            "--admin-email",
            "x@other.example",
        ])
        .await;
    assert_eq!(dup.status.code(), Some(1));
    assert!(
        dup.stderr.contains("error: slug \"acme\" is taken"),
        "{}",
        dup.stderr
    );
    assert!(dup.stdout.is_empty());
    let bad = env
        .run(&[
            "tenant",
            "create",
            "--slug",
            "gamma",
            "--name",
            "Gamma",
            "--admin-email",
            "not-an-email",
        ])
        .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stderr.contains("email"), "{}", bad.stderr);
    let missing = env.run(&["tenant", "create", "--slug", "delta"]).await;
    assert_eq!(
        missing.status.code(),
        Some(2),
        "clap refuses missing arguments"
    );

    let db = tandem_core::database::connect(env.db.url()).await.unwrap();
    let tandem = Tandem::new(db, Ports::default(), Limits::default());
    assert_eq!(
        tandem.tenants.count().await.unwrap(),
        2,
        "refused commands created nothing"
    );
    tandem
        .operators
        .authenticate("acme", "boss@acme.example", &password)
        .await
        .expect("the printed password logs in");
}

async fn migrate_applies_lists_and_rolls_back(env: Env) {
    let status = env.run(&["migrate", "status"]).await;
    assert!(status.status.success(), "{}", status.stderr);
    assert!(
        status
            .stdout
            .contains("m20261124_000001_foundation\tPending"),
        "{}",
        status.stdout
    );
    let up = env.run(&["migrate", "up"]).await;
    assert!(up.status.success(), "{}", up.stderr);
    assert!(
        env.run(&["migrate", "status"])
            .await
            .stdout
            .contains("m20261124_000001_foundation\tApplied")
    );
    let down = env.run(&["migrate", "down"]).await;
    assert!(down.status.success(), "{}", down.stderr);
    let after_down = env.run(&["migrate", "status"]).await.stdout;
    // Only the newest (the last listed) is pending again; every other stays applied.
    let states: Vec<&str> = after_down
        .lines()
        .filter_map(|line| line.split('\t').nth(1))
        .collect();
    assert!(
        states.len() > 1
            && states.last() == Some(&"Pending")
            && states[..states.len() - 1].iter().all(|s| *s == "Applied"),
        "down rolls back only the newest migration: {states:?}\n{after_down}"
    );
    assert!(
        env.run(&["migrate"]).await.status.success(),
        "`migrate` alone means up"
    );
    assert!(
        env.run(&["migrate", "status"])
            .await
            .stdout
            .contains("Applied")
    );
}

async fn configuration_errors_are_reported_not_panicked(env: Env) {
    let out = env
        .tandem()
        .env("TANDEM_BIND", "not-an-address")
        .arg("serve")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: invalid configuration") && stderr.contains("BIND"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    let unknown = env
        .tandem()
        .env("TANDEM_DATABSE_URL", "typo")
        .arg("serve")
        .output()
        .await
        .unwrap();
    assert_eq!(
        unknown.status.code(),
        Some(1),
        "a misspelt setting is refused, not ignored"
    );
}

tandem_testkit::on_both_databases!(
    Env::on_database =>
    first_run_creates_the_demo_tenant_and_prints_its_login_once,
    tenant_create_prints_one_json_object_and_refuses_bad_input,
    migrate_applies_lists_and_rolls_back,
    configuration_errors_are_reported_not_panicked,
);
