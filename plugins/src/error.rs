//! What can go wrong with a plugin: refused at upload, or failed in a call.

/// Why an uploaded module is not accepted as a plugin; the admin reads these.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidationError {
    #[error("the plugin is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly component of the tandem:plugin world: {0}")]
    NotAComponent(String),
    #[error(
        "the component does not export tandem:plugin/hooks{}; this server supports the tandem:plugin worlds {}",
        found.as_ref().map(|f| format!(" (it exports {f})")).unwrap_or_default(),
        supported()
    )]
    WrongWorld { found: Option<String> },
    #[error(
        "the component is built for tandem:plugin@{found}, which this server does not support; it supports {supported}",
        found = .0,
        supported = supported()
    )]
    UnsupportedWorld(String),
    #[error("the component imports {0}, which this server does not offer to plugins")]
    ForbiddenImport(String),
    #[error("the plugin's manifest call failed: {0}")]
    Manifest(#[source] CallError),
    #[error("the manifest is not valid: {0}")]
    BadManifest(String),
    #[error("the plugin is too expensive to compile: {0}")]
    CompileBudget(String),
    #[error("the plugin compiler could not run: {0}")]
    Compiler(String),
}

/// Why one hook call gave no usable answer. Each of these means "use the default".
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CallError {
    #[error("ran past its time limit of {0} ms")]
    Timeout(u64),
    #[error("tried to use more than its memory limit of {0} MiB")]
    MemoryLimit(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned an unusable result: {0}")]
    Malformed(String),
    #[error("could not run: {0}")]
    Host(String),
    /// The tenant's (or the host's) plugin instances were all busy for this long: nobody's
    /// failure, the default is used.
    #[error("waited {0} ms for a free plugin instance")]
    Busy(u64),
}

fn supported() -> String {
    crate::world::SUPPORTED.join(", ")
}
