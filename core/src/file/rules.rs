//! What a tenant takes: which kinds of files, how large, how many a day from a visitor. The
//! platform's limits (file size, storage) bound what a tenant may set.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Kinds of files a tenant may accept; anything else (programs, unknown binaries) never is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileGroup {
    /// PNG, JPEG, GIF and WebP, shown inline.
    Images,
    Pdf,
    /// Word, Excel and PowerPoint files (old and new), OpenDocument, RTF, EPUB.
    Documents,
    /// Plain text and CSV (UTF-8).
    Text,
    /// Zip, gzip, 7-Zip, RAR and tar.
    Archives,
    /// MP3, Ogg, WAV, MP4, QuickTime and WebM.
    Media,
}

impl FileGroup {
    pub const ALL: [Self; 6] = [
        Self::Images,
        Self::Pdf,
        Self::Documents,
        Self::Text,
        Self::Archives,
        Self::Media,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Pdf => "pdf",
            Self::Documents => "documents",
            Self::Text => "text",
            Self::Archives => "archives",
            Self::Media => "media",
        }
    }
}

/// A tenant's rules for files in its chats (part of its settings).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// Whether visitors may send files (operators always may, within the same rules).
    pub from_visitors: bool,
    /// The kinds accepted, from visitors and operators alike.
    pub accepted: Vec<FileGroup>,
    /// The largest file, in MiB; the platform's limit for the tenant caps it.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub max_mib: u32,
    /// Files one visitor may send a day.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub visitor_files_per_day: u32,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            from_visitors: true,
            accepted: FileGroup::ALL.to_vec(),
            max_mib: 10,
            visitor_files_per_day: 20,
        }
    }
}

impl FileSettings {
    pub const MAX_MIB: u32 = 100;

    pub fn validate(&self) -> Result<(), CoreError> {
        if !(1..=Self::MAX_MIB).contains(&self.max_mib) {
            return Err(CoreError::invalid(
                "files.max_mib",
                format!("must be from 1 to {}", Self::MAX_MIB),
            ));
        }
        if !(1..=1000).contains(&self.visitor_files_per_day) {
            return Err(CoreError::invalid(
                "files.visitor_files_per_day",
                "must be from 1 to 1000",
            ));
        }
        Ok(())
    }

    /// The largest file taken, in bytes, under the platform's cap for the tenant.
    pub fn max_bytes(&self, platform_cap_mib: u32) -> u64 {
        u64::from(self.max_mib.min(platform_cap_mib)) * 1024 * 1024
    }
}
