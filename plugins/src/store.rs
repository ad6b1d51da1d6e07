//! The state of one call's store: an empty WASI context, the plugin's captured output, and the
//! limiter that caps its memory and remembers whether the cap was hit.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryCap,
    /// How long instantiating the plugin took, once it is instantiated.
    pub(crate) instantiation: Option<Duration>,
}

impl CallState {
    /// No files, no sockets, no environment, no arguments: a guest built for WASI gets the
    /// interfaces it links against, and nothing behind them. Clocks and randomness stay.
    pub(crate) fn new(memory_bytes: usize, output: MemoryOutputPipe) -> Self {
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            // Random bytes are made on the host, outside the memory cap, in one call that
            // nothing interrupts: a little at a time is all a plugin needs.
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryCap {
                limit: memory_bytes,
                hit: false,
            },
            instantiation: None,
        }
    }
}

/// Random bytes a plugin may ask for in one call.
const MAX_RANDOM_BYTES: u64 = 64 * 1024;

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

pub(crate) struct MemoryCap {
    limit: usize,
    pub(crate) hit: bool,
}

/// Tables, instances and memories per store: generous for any real guest, small for a bomb.
const MAX_TABLE_ELEMENTS: usize = 100_000;
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
