//! The plugins `scripts/build-plugins` builds (the examples and the hostile test plugin), for
//! the tests and benchmarks of every crate that runs them.

/// Where `name`.wasm is: `$TANDEM_PLUGIN_WASM_DIR`, else the build's own target folder.
pub fn guest_path(name: &str) -> String {
    let dir = std::env::var("TANDEM_PLUGIN_WASM_DIR")
        .unwrap_or_else(|_| format!("{}/guests/wasm32-wasip2/release", target_dir()));
    format!("{dir}/{name}.wasm")
}

/// Where the tests keep compiled plugins (wasmtime's cache), shared by every test process of a
/// run and kept between runs: a JavaScript plugin takes seconds to compile, and is compiled once.
pub fn compiled_cache_dir() -> String {
    format!("{}/plugin-cache", target_dir())
}

/// The build's target folder: `$CARGO_TARGET_DIR`, else the workspace's `target`.
fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_owned())
}

pub fn guest(name: &str) -> Vec<u8> {
    let path = guest_path(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}; build the plugins first with scripts/build-plugins")
    })
}

/// A component that is valid and small (≈ 150 KB) but slow and memory-hungry to compile: one
/// function of thousands of locals all live across thousands of branches, which keeps the
/// register allocator busy for a long time.
pub fn expensive_to_compile() -> Vec<u8> {
    const LOCALS: usize = 2_000;
    const BRANCHES: usize = 15_000;
    let mut body = String::with_capacity(BRANCHES * 64);
    for i in 0..BRANCHES {
        let (a, b) = (i % LOCALS, (i * 7 + 3) % LOCALS);
        body.push_str(&format!(
            "(block (br_if 0 (i64.eqz (local.get {a}))) (local.set {b} (i64.add (local.get {a}) (local.get {b}))))\n"
        ));
    }
    let mut sum = String::new();
    for i in 0..LOCALS {
        sum.push_str(&format!("(local.get {i}) i64.add\n"));
    }
    let wat = format!(
        "(component (core module (func (export \"f\") (param i64) (result i64) (local {locals})
           {body}
           (i64.const 0) {sum})))",
        locals = "i64 ".repeat(LOCALS)
    );
    wat::parse_str(wat).expect("wat")
}
