//! An S3-compatible server for the file-store tests: `scripts/test` starts moto's server on
//! loopback and names it in `TANDEM_TEST_S3_URL`. Each test gets a bucket of its own.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const S3_URL_VAR: &str = "TANDEM_TEST_S3_URL";
/// Set to `skip` to run without the S3-compatible server on purpose.
pub const S3_SKIP_VAR: &str = "TANDEM_TEST_S3";

pub struct Bucket {
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    pub name: String,
}

impl Bucket {
    /// A new, empty bucket. `None` only when the S3 tests are skipped on purpose; panics when
    /// no server is configured otherwise (a file-store test must never pass silently).
    pub async fn create() -> Option<Self> {
        let Ok(endpoint) = std::env::var(S3_URL_VAR) else {
            if std::env::var(S3_SKIP_VAR).as_deref() == Ok("skip") {
                eprintln!("S3 test skipped: {S3_SKIP_VAR}=skip");
                return None;
            }
            panic!(
                "{S3_URL_VAR} is not set: run scripts/test (it starts an S3-compatible server), \
                 or set {S3_SKIP_VAR}=skip to skip the S3 tests on purpose"
            );
        };
        let name = format!("tandem-{}", uuid::Uuid::new_v4().simple());
        let host = endpoint
            .strip_prefix("http://")
            .expect("TANDEM_TEST_S3_URL is http://host:port")
            .trim_end_matches('/')
            .to_owned();
        // moto takes unsigned requests: a bare PUT makes the bucket.
        let mut stream = TcpStream::connect(&host)
            .await
            .unwrap_or_else(|e| panic!("the S3-compatible server at {endpoint}: {e}"));
        let request = format!(
            "PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("an answer");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "creating bucket {name}: {answer}"
        );
        Some(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            name,
        })
    }

    /// The `TANDEM_*` settings of a server keeping its files in this bucket.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("TANDEM_FILES", format!("s3://{}", self.name)),
            ("TANDEM_S3_ENDPOINT", self.endpoint.clone()),
            ("TANDEM_S3_REGION", "us-east-1".to_owned()),
            ("TANDEM_S3_ACCESS_KEY_ID", "testing".to_owned()),
            ("TANDEM_S3_SECRET_ACCESS_KEY", "testing".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}
