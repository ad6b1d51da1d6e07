//! Files in a dialog: what a visitor or an operator sends besides text. The bytes live in a
//! [`FileStore`] (a directory or an S3-compatible bucket, wired by the binary); the database
//! keeps each file's record and the message that carries it.

mod image;
mod link;
mod metadata;
mod name;
mod refusal;
mod removals;
mod rules;
mod service;
mod sniff;
mod store;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::FileId;

pub use link::{FileLink, LINK_LIFETIME};
pub use name::FileName;
pub use refusal::FileRefusal;
pub use rules::{FileGroup, FileSettings};
pub use service::{Download, FileService, Variant};
pub use sniff::{Sniffed, sniff};
pub use store::{FileStore, FileStoreError, FileStream, NoFileStore};

pub(crate) use removals::{let_go, remove_later, remove_now};
pub(crate) use service::{FileRecord, key as store_key, purge_deleted};

/// An operator's photo made from `bytes`, off the async threads.
pub(crate) async fn portrait_off_thread(
    gate: &tokio::sync::Semaphore,
    bytes: bytes::Bytes,
) -> crate::error::CoreResult<Vec<u8>> {
    self::image::off_thread(gate, move || self::image::portrait(&bytes)).await
}

/// How a file is shown: an image inline (checked to decode as one), anything else as a link.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    #[sea_orm(string_value = "image")]
    Image,
    #[sea_orm(string_value = "file")]
    File,
}

/// The file a message carries, as the API shows it. Download it from
/// `/api/v1/widget/{key}/files/{id}` (the visitor) or `/api/v1/files/{id}` (operators).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: FileId,
    /// The name it was sent with (cleaned of paths and control characters).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The type its content was found to be (not what its name or the sender said).
    pub content_type: String,
    pub kind: FileKind,
    /// An image's size in pixels, upright.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Whether a smaller copy is served at `…/thumbnail` (images larger than a thumbnail).
    #[serde(default)]
    pub thumbnail: bool,
}
