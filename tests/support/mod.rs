//! Helpers for end-to-end tests: Tandem against a fresh database, served inside the test process
//! ([`in_process`]) or as the real `tandem` binary ([`Env`]: the command line, signals, crashes,
//! clusters), driven the way the widget and the workspace drive it ([`live`]).

#![allow(dead_code)]

pub mod browser;
pub mod in_process;
pub mod live;

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_testkit::TestDatabase;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BINARY: &str = env!("CARGO_BIN_EXE_tandem");

/// A fresh database and an empty working directory for the binary.
pub struct Env {
    pub db: TestDatabase,
    pub dir: TempDir,
    queue: String,
}

impl Env {
    pub async fn on_database(db: TestDatabase) -> Self {
        Self {
            db,
            dir: tempfile::tempdir().expect("a working directory"),
            queue: format!("test-{}", tandem_core::ids::ConnectionId::new()),
        }
    }

    /// The job queue and event channel of this test's servers (tests share one PostgreSQL).
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// `tandem` with this database, on a port of its own, and nothing else configured.
    pub fn tandem(&self) -> Command {
        let mut command = Command::new(BINARY);
        command
            .current_dir(self.dir.path())
            .env("TANDEM_DATABASE_URL", self.db.url())
            .env("TANDEM_BIND", "127.0.0.1:0")
            // Tests share one PostgreSQL, and apalis keeps every queue in one schema.
            .env("TANDEM_QUEUE", &self.queue)
            // …and every database of it hears every NOTIFY on a channel: one per test.
            .env("TANDEM_BUS_CHANNEL", &self.queue)
            .env_remove("TANDEM_PUBLIC_URL")
            .kill_on_drop(true);
        command
    }

    /// Runs a command to completion.
    pub async fn run(&self, args: &[&str]) -> Output {
        let out = self.tandem().args(args).output().await.expect("run tandem");
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `tandem serve` and waits until it listens.
    pub async fn serve(&self) -> Server {
        self.serve_with(&[]).await
    }

    /// `tandem serve` with extra environment variables.
    pub async fn serve_with(&self, vars: &[(&str, &str)]) -> Server {
        let mut command = self.tandem();
        command.envs(vars.iter().copied());
        let mut child = command
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tandem serve");
        let stdout = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let sink = stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut out = sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut out = sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        let mut server = Server {
            child,
            stdout,
            stderr,
            base_url: String::new(),
        };
        let line = server.wait_for_line("Tandem is listening on ").await;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL in the listening line");
        server.base_url = url.to_owned();
        server
    }
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub struct Server {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pub base_url: String,
}

impl Server {
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The first stdout line containing `needle`, waiting up to 30 s for it.
    pub async fn wait_for_line(&mut self, needle: &str) -> String {
        for _ in 0..300 {
            if let Some(line) = self.stdout().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "tandem exited with {status} before printing {needle:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr.lock().unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "tandem did not print {needle:?} within 30 s\nstdout:\n{}",
            self.stdout()
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// SIGKILL: the process dies without a word, as on a crashed machine.
    pub fn kill(&mut self) {
        self.child.start_kill().expect("kill tandem");
    }

    /// SIGKILL, and waits until the process is gone (its port is free again).
    pub async fn crash(&mut self) {
        self.kill();
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then the exit status (within 15 s).
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("tandem stops within 15 s of SIGTERM")
            .expect("wait for tandem")
    }
}
