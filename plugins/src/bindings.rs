//! Rust types and calls generated from `plugins/wit/plugin.wit`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
    // Calls are futures, so the host's deadline can drop them wherever the guest is.
    exports: { default: async },
});
