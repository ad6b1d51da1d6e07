//! Turning an uploaded component into machine code, under a budget.
//!
//! `Component::new` has no budget of its own: one function of 15,000 `br_if` blocks took 56 s
//! and 980 MB to compile here. So the server compiles in a child process of its own binary
//! (`tandem plugin compile`), with a data-memory limit (RLIMIT_DATA) set in the child and a deadline after
//! which the parent kills it; the child hands back wasmtime's serialized component, which the
//! parent loads without compiling. Tests and tools may compile in-process, under the deadline
//! only.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::ValidationError;

/// What one compilation may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileBudget {
    pub time: Duration,
    /// Data memory (heap and private mappings) of the compiling process (subprocess only).
    pub memory_bytes: u64,
}

impl Default for CompileBudget {
    fn default() -> Self {
        Self {
            // A JavaScript plugin (its engine is 12 MB of wasm) takes 4-10 s on 2 cores.
            time: Duration::from_secs(30),
            memory_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Where components are compiled.
#[derive(Clone, Debug)]
pub enum Compiler {
    /// On a blocking thread of this process; a compile past the deadline is abandoned (its
    /// thread runs on to the end) and refused.
    InProcess,
    /// In a child process: `program args…`, reading the component on stdin and writing the
    /// serialized component on stdout (see [`compile_stdin_to_stdout`]).
    Subprocess { program: PathBuf, args: Vec<String> },
}

impl Compiler {
    /// This very executable, run as `tandem plugin compile`.
    pub fn this_binary(cache_dir: Option<&Path>) -> std::io::Result<Self> {
        Ok(Self::binary(&std::env::current_exe()?, cache_dir))
    }

    /// The `tandem` executable at `program`, run as `tandem plugin compile`.
    pub fn binary(program: &Path, cache_dir: Option<&Path>) -> Self {
        let mut args = vec!["plugin".to_owned(), "compile".to_owned()];
        if let Some(dir) = cache_dir {
            args.push("--cache-dir".to_owned());
            args.push(dir.display().to_string());
        }
        Self::Subprocess {
            program: program.to_owned(),
            args,
        }
    }

    pub(crate) async fn compile(
        &self,
        engine: &Engine,
        wasm: Vec<u8>,
        budget: CompileBudget,
    ) -> Result<Component, ValidationError> {
        match self {
            Self::InProcess => in_process(engine, wasm, budget).await,
            Self::Subprocess { program, args } => {
                let bytes = subprocess(program, args, wasm, budget).await?;
                // SAFETY: the bytes are what our own binary's `plugin compile` wrote for an
                // engine of the same configuration, read from its pipe; wasmtime checks its
                // version and configuration before using them.
                unsafe { Component::deserialize(engine, &bytes) }
                    .map_err(|e| ValidationError::NotAComponent(first_line(&e)))
            }
        }
    }
}

async fn in_process(
    engine: &Engine,
    wasm: Vec<u8>,
    budget: CompileBudget,
) -> Result<Component, ValidationError> {
    let engine = engine.clone();
    let compiling = tokio::task::spawn_blocking(move || Component::new(&engine, &wasm));
    match tokio::time::timeout(budget.time, compiling).await {
        Ok(Ok(compiled)) => compiled.map_err(|e| ValidationError::NotAComponent(first_line(&e))),
        Ok(Err(e)) => Err(ValidationError::NotAComponent(e.to_string())),
        Err(_) => Err(ValidationError::CompileBudget(over_time(budget))),
    }
}

async fn subprocess(
    program: &Path,
    args: &[String],
    wasm: Vec<u8>,
    budget: CompileBudget,
) -> Result<Vec<u8>, ValidationError> {
    let host = |e: std::io::Error| ValidationError::Compiler(e.to_string());
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env(MEMORY_ENV, budget.memory_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(host)?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(ValidationError::Compiler("no pipes to the compiler".into()));
    };
    let talk = async {
        let feed = async {
            // A child that dies early closes its end; what it says on stderr tells why.
            let _ = stdin.write_all(&wasm).await;
            drop(stdin);
        };
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (_, read_out, read_err) = tokio::join!(
            feed,
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err)
        );
        read_out.and(read_err).map_err(host)?;
        let status = child.wait().await.map_err(host)?;
        Ok::<_, ValidationError>((status, out, err))
    };
    let (status, out, err) = match tokio::time::timeout(budget.time, talk).await {
        Ok(done) => done?,
        // Dropping the child kills it.
        Err(_) => return Err(ValidationError::CompileBudget(over_time(budget))),
    };
    if status.success() {
        return Ok(out);
    }
    let said = String::from_utf8_lossy(&err);
    let said = said.lines().last().unwrap_or_default();
    if let Some(reason) = said.strip_prefix(REFUSED) {
        return Err(ValidationError::NotAComponent(reason.to_owned()));
    }
    // Out of memory shows as an allocation failure or a signal, never as a refusal.
    Err(ValidationError::CompileBudget(format!(
        "compiling it needs more than {} MiB of memory",
        budget.memory_bytes / (1024 * 1024)
    )))
}

/// The child's side: its memory limit comes in this variable.
const MEMORY_ENV: &str = "TANDEM_PLUGIN_COMPILE_MEMORY";
/// The line the child prints when the component itself is at fault.
const REFUSED: &str = "refused: ";

/// `tandem plugin compile`: reads a component on stdin, compiles it for `engine`, writes the
/// serialized form on stdout. Limits its own data memory first, as the parent asked.
pub fn compile_stdin_to_stdout(engine: &Engine) -> std::process::ExitCode {
    if let Some(limit) = std::env::var(MEMORY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        && let Err(e) = rustix::process::setrlimit(
            rustix::process::Resource::Data,
            rustix::process::Rlimit {
                current: Some(limit),
                maximum: Some(limit),
            },
        )
    {
        eprintln!("cannot limit the compiler's memory: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let mut wasm = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut wasm) {
        eprintln!("cannot read the component: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let bytes = Component::new(engine, &wasm).and_then(|c| c.serialize());
    match bytes {
        Ok(bytes) => match std::io::stdout().write_all(&bytes) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write the compiled component: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{REFUSED}{}", first_line(&e));
            std::process::ExitCode::from(2)
        }
    }
}

fn over_time(budget: CompileBudget) -> String {
    format!("compiling it takes more than {} s", budget.time.as_secs())
}

pub(crate) fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
