//! A fresh, empty database for one test, on SQLite or PostgreSQL.
//!
//! SQLite gets a file in a temporary directory. PostgreSQL gets a schema of its own inside the
//! database named by `TANDEM_TEST_POSTGRES_URL`, selected through the URL's `search_path`
//! option, so every connection made from [`TestDatabase::url`] (a pool, a child process) sees only
//! that schema. The schema is dropped when the value is dropped.

use sea_orm::{ConnectionTrait, Database};

/// The variable that names the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "TANDEM_TEST_POSTGRES_URL";
/// Set to `skip` to run without PostgreSQL on purpose; the PostgreSQL tests then say so and pass.
pub const POSTGRES_SKIP_VAR: &str = "TANDEM_TEST_POSTGRES";

pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Schema { server_url: String, schema: String },
}

impl TestDatabase {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for the SQLite test database");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("tandem.db").display()
        );
        Self {
            url,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// `None` only when PostgreSQL tests were skipped on purpose (`TANDEM_TEST_POSTGRES=skip`).
    /// Panics when `TANDEM_TEST_POSTGRES_URL` is missing otherwise: a storage test must never pass
    /// silently without the database it claims to cover.
    pub async fn postgres() -> Option<Self> {
        let Ok(server_url) = std::env::var(POSTGRES_URL_VAR) else {
            if std::env::var(POSTGRES_SKIP_VAR).as_deref() == Ok("skip") {
                eprintln!("PostgreSQL test skipped: {POSTGRES_SKIP_VAR}=skip");
                return None;
            }
            panic!(
                "{POSTGRES_URL_VAR} is not set. Run the tests with .ci/run, or set it (e.g. \
                 postgres://postgres@127.0.0.1:5432/test), or set {POSTGRES_SKIP_VAR}=skip to \
                 run SQLite only."
            );
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let server = Database::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server_url}: {e}"));
        server
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create the test schema");
        server.close().await.ok();
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{schema}");
        Some(Self {
            url,
            cleanup: Cleanup::Schema { server_url, schema },
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Schema { .. })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Schema { server_url, schema } = &self.cleanup else {
            return;
        };
        let (server_url, schema) = (server_url.clone(), schema.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(server) = Database::connect(&server_url).await {
                    let _ = server
                        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                    let _ = server.close().await;
                }
            });
        })
        .join();
    }
}

/// Runs each listed `async fn(T)` twice, on SQLite and on PostgreSQL, where `T` is what `setup`
/// (an `async fn(TestDatabase) -> T`) makes of a fresh database.
///
/// ```ignore
/// on_both_databases!(World::on_database => night_visitor_goes_offline, tabs_count_once);
/// ```
#[macro_export]
macro_rules! on_both_databases {
    ($setup:path => $($test:ident),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = $crate::test_db::TestDatabase::sqlite().await;
                    super::$test($setup(db).await).await;
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(db) = $crate::test_db::TestDatabase::postgres().await {
                        super::$test($setup(db).await).await;
                    }
                }
            )*
        }
    };
}
