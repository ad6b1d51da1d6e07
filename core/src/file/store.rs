//! The port the files' bytes go through. Keys are `<tenant>/<file>` and `<tenant>/<file>.thumb`:
//! one tenant's files share a prefix, which an erasure or an export can walk.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

/// A file's bytes as they are read, in chunks.
pub type FileStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error("no such file in the store")]
    NotFound,
    #[error("the file store is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait FileStore: Send + Sync {
    /// Writes the whole object; an existing one under the key is replaced.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileStoreError>;
    /// The object's bytes as a stream, and its size.
    async fn get(&self, key: &str) -> Result<(u64, FileStream), FileStoreError>;
    /// Deleting what is not there succeeds.
    async fn delete(&self, key: &str) -> Result<(), FileStoreError>;
}

impl FileStoreError {
    /// The domain's error for a store's answer about `what` (a file, a photo).
    pub(crate) fn into_core(self, what: &'static str) -> crate::error::CoreError {
        match self {
            Self::NotFound => crate::error::CoreError::NotFound(what),
            Self::Unavailable(reason) => crate::error::CoreError::FilesUnavailable(reason),
        }
    }
}

/// No store configured: every upload and download is refused as unavailable.
pub struct NoFileStore;

#[async_trait::async_trait]
impl FileStore for NoFileStore {
    async fn put(&self, _: &str, _: Bytes) -> Result<(), FileStoreError> {
        Err(unconfigured())
    }

    async fn get(&self, _: &str) -> Result<(u64, FileStream), FileStoreError> {
        Err(unconfigured())
    }

    async fn delete(&self, _: &str) -> Result<(), FileStoreError> {
        Err(unconfigured())
    }
}

fn unconfigured() -> FileStoreError {
    FileStoreError::Unavailable("no file store is configured".into())
}
