//! Writing an archive into the file store as it is produced: lines are gzipped, and every
//! [`PART_BYTES`] of compressed output becomes a part of its own — a whole gzip member. Parts
//! read one after the other are one valid `.jsonl.gz` file (gzip allows members end to end),
//! so a download streams them in order, and no more than a part is ever in memory.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::error::{CoreError, CoreResult};
use crate::file::FileStore;
use crate::ids::{ExportId, TenantId};

/// A part is closed and stored once its compressed bytes reach this size.
pub(super) const PART_BYTES: usize = 8 * 1024 * 1024;
/// Lines are gathered up to this much text before they are compressed (off the async
/// threads).
const CHUNK_BYTES: usize = 256 * 1024;

/// A part's key in the store: under the tenant's prefix, as its files are.
/// Each attempt at a build writes parts of its own, so that one taking over from a worker that
/// seemed dead never shares a key with it.
pub(super) fn part_key(tenant: TenantId, export: ExportId, attempt: i32, part: i32) -> String {
    format!("{tenant}/exports/{export}/{attempt}-{part}")
}

pub(super) struct ArchiveWriter {
    files: Arc<dyn FileStore>,
    tenant: TenantId,
    export: ExportId,
    attempt: i32,
    /// Lines not yet compressed.
    pending: Vec<u8>,
    /// The part being written (taken while a chunk is compressed on a blocking thread).
    part: Option<GzEncoder<Vec<u8>>>,
    parts_stored: i32,
    bytes_stored: u64,
    /// [`PART_BYTES`], smaller in tests.
    part_bytes: usize,
    pub lines: u64,
}

impl ArchiveWriter {
    pub fn new(
        files: Arc<dyn FileStore>,
        tenant: TenantId,
        export: ExportId,
        attempt: i32,
    ) -> Self {
        Self {
            files,
            tenant,
            export,
            attempt,
            pending: Vec::with_capacity(CHUNK_BYTES + 4096),
            part: Some(new_part()),
            parts_stored: 0,
            bytes_stored: 0,
            part_bytes: PART_BYTES,
            lines: 0,
        }
    }

    /// Adds one line (compressed with the next chunk).
    pub async fn line(&mut self, line: &impl Serialize) -> CoreResult<()> {
        serde_json::to_writer(&mut self.pending, line)
            .map_err(|e| CoreError::Storage(sea_orm::DbErr::Json(e.to_string())))?;
        self.pending.push(b'\n');
        self.lines += 1;
        if self.pending.len() >= CHUNK_BYTES.min(self.part_bytes) {
            self.compress().await?;
        }
        Ok(())
    }

    /// Compresses what is pending; stores the part when it is full.
    async fn compress(&mut self) -> CoreResult<()> {
        let chunk = std::mem::take(&mut self.pending);
        let mut part = self.part.take().unwrap_or_else(new_part);
        let (part, chunk) = tokio::task::spawn_blocking(move || {
            let written = part.write_all(&chunk);
            (written.map(|()| part), chunk)
        })
        .await
        .map_err(|e| CoreError::Busy(join_failed(&e)))?;
        self.pending = chunk;
        self.pending.clear();
        let part = part.map_err(gzip_failed)?;
        if part.get_ref().len() >= self.part_bytes {
            self.store(part).await?;
        } else {
            self.part = Some(part);
        }
        Ok(())
    }

    async fn store(&mut self, part: GzEncoder<Vec<u8>>) -> CoreResult<()> {
        let bytes = part.finish().map_err(gzip_failed)?;
        let key = part_key(self.tenant, self.export, self.attempt, self.parts_stored);
        let size = bytes.len() as u64;
        self.files
            .put(&key, Bytes::from(bytes))
            .await
            .map_err(|e| e.into_core("export"))?;
        self.parts_stored += 1;
        self.bytes_stored += size;
        Ok(())
    }

    /// Stores the last part; returns how many parts and bytes the archive has.
    pub async fn finish(&mut self) -> CoreResult<(i32, u64)> {
        self.compress().await?;
        if let Some(part) = self.part.take() {
            self.store(part).await?;
        }
        Ok((self.parts_stored, self.bytes_stored))
    }

    /// Parts stored so far, for removing them when the build fails.
    pub fn parts_stored(&self) -> i32 {
        self.parts_stored
    }
}

fn new_part() -> GzEncoder<Vec<u8>> {
    GzEncoder::new(Vec::with_capacity(PART_BYTES / 4), Compression::fast())
}

fn gzip_failed(e: std::io::Error) -> CoreError {
    CoreError::Storage(sea_orm::DbErr::Custom(format!("gzip: {e}")))
}

fn join_failed(_: &tokio::task::JoinError) -> &'static str {
    "the export's compression stopped"
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;
    use std::sync::Mutex;

    use crate::file::{FileStoreError, FileStream};

    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<BTreeMap<String, Bytes>>);

    #[async_trait::async_trait]
    impl FileStore for Memory {
        async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileStoreError> {
            self.0.lock().unwrap().insert(key.to_owned(), bytes);
            Ok(())
        }

        async fn get(&self, _: &str) -> Result<(u64, FileStream), FileStoreError> {
            Err(FileStoreError::NotFound)
        }

        async fn delete(&self, _: &str) -> Result<(), FileStoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn parts_read_one_after_the_other_are_the_whole_archive() {
        let store = Arc::new(Memory::default());
        let (tenant, export) = (TenantId::new(), ExportId::new());
        let mut writer = ArchiveWriter::new(store.clone(), tenant, export, 1);
        writer.part_bytes = 4096;
        let lines: Vec<serde_json::Value> = (0..20_000)
            .map(|i| serde_json::json!({ "type": "message", "seq": i, "body": format!("line {i} {}", i * 7919 % 10007) }))
            .collect();
        for line in &lines {
            writer.line(line).await.unwrap();
        }
        let (parts, size) = writer.finish().await.unwrap();
        assert!(parts > 3, "{parts} parts");
        let stored = store.0.lock().unwrap().clone();
        assert_eq!(stored.len(), parts as usize);
        let mut whole = Vec::new();
        for part in 0..parts {
            whole.extend_from_slice(&stored[&part_key(tenant, export, 1, part)]);
        }
        assert_eq!(whole.len() as u64, size);
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&whole[..])
            .read_to_string(&mut text)
            .unwrap();
        let read: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(read, lines);
    }
}
