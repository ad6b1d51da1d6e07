//! The plugins `scripts/build-plugins` builds (the examples and the hostile test plugin), for
//! the tests and benchmarks of every crate that runs them.

/// Where `name`.wasm is: `$TANDEM_PLUGIN_WASM_DIR`, else the build's own target folder.
pub fn guest_path(name: &str) -> String {
    let dir = std::env::var("TANDEM_PLUGIN_WASM_DIR").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
        format!("{target}/guests/wasm32-wasip2/release")
    });
    format!("{dir}/{name}.wasm")
}

pub fn guest(name: &str) -> Vec<u8> {
    let path = guest_path(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}; build the plugins first with scripts/build-plugins")
    })
}
