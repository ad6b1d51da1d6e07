//! Rust types and calls generated from `plugins/wit/plugin.wit`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
});
