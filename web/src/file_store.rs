//! The file store core's `FileStore` port is wired to: a directory on this machine by default
//! (next to the SQLite file), or an S3-compatible bucket for a cluster, both through
//! `object_store`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload};
use tandem_core::file::{FileStore, FileStoreError, FileStream};

use crate::config::Config;

pub struct ObjectFiles {
    store: Arc<dyn ObjectStore>,
}

impl ObjectFiles {
    /// The store `config.files` names: `s3://bucket[/prefix]`, or a directory (created if
    /// missing).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match config.files.strip_prefix("s3://") {
            Some(rest) => Self::s3(rest, config),
            None => Self::directory(&config.files),
        }
    }

    pub fn directory(dir: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {dir} for files"))?;
        let local = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("cannot keep files in {dir}"))?
            // A deleted tenant's or file's empty directories go too.
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(local),
        })
    }

    /// A bucket: credentials, region and endpoint from the `TANDEM_S3_*` settings, else from
    /// the usual `AWS_*` environment variables.
    fn s3(location: &str, config: &Config) -> anyhow::Result<Self> {
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        anyhow::ensure!(
            !bucket.is_empty(),
            "TANDEM_FILES=s3://… needs a bucket name"
        );
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(
                ClientOptions::new()
                    // A whole request, a large file's download included.
                    .with_timeout(Duration::from_secs(300))
                    .with_connect_timeout(Duration::from_secs(5)),
            );
        if let Some(endpoint) = &config.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &config.s3_region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &config.s3_access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.s3_secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let s3 = builder
            .build()
            .with_context(|| format!("cannot use the bucket {bucket}"))?;
        let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
            "" => Arc::new(s3),
            prefix => Arc::new(PrefixStore::new(s3, prefix)),
        };
        Ok(Self { store })
    }
}

#[async_trait::async_trait]
impl FileStore for ObjectFiles {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileStoreError> {
        self.store
            .put(&path(key)?, PutPayload::from_bytes(bytes))
            .await
            .map(drop)
            .map_err(failed)
    }

    async fn get(&self, key: &str) -> Result<(u64, FileStream), FileStoreError> {
        let got = self.store.get(&path(key)?).await.map_err(failed)?;
        let size = got.meta.size;
        let stream = got
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed();
        Ok((size, stream))
    }

    async fn delete(&self, key: &str) -> Result<(), FileStoreError> {
        match self.store.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
}

fn path(key: &str) -> Result<Path, FileStoreError> {
    Path::parse(key).map_err(|e| FileStoreError::Unavailable(format!("bad key {key}: {e}")))
}

fn failed(e: object_store::Error) -> FileStoreError {
    match e {
        object_store::Error::NotFound { .. } => FileStoreError::NotFound,
        other => FileStoreError::Unavailable(other.to_string()),
    }
}
