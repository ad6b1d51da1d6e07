//! Why a file was not taken. Each reason has its own code on the wire, so the widget can say it
//! in the visitor's language.

use super::FileGroup;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRefusal {
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("files of this type ({found}) are not accepted here; accepted: {allowed}")]
    TypeNotAllowed { found: String, allowed: String },
    #[error("the file's content ({content}) does not match its name ({name_says})")]
    Disguised { name_says: String, content: String },
    #[error("the image cannot be read: it is damaged, or larger than {max_pixels} pixels")]
    Unreadable { max_pixels: u64 },
    #[error("at most {per_day} files a day may be sent in this chat; try again tomorrow")]
    TooMany { per_day: u32 },
    #[error("this company's file storage is full")]
    StorageFull,
    #[error("this company does not take files from visitors")]
    Off,
    #[error("the file is empty")]
    Empty,
}

impl FileRefusal {
    /// The code on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "file_too_large",
            Self::TypeNotAllowed { .. } => "file_type_not_allowed",
            Self::Disguised { .. } => "file_disguised",
            Self::Unreadable { .. } => "file_unreadable",
            Self::TooMany { .. } => "too_many_files",
            Self::StorageFull => "storage_full",
            Self::Off => "files_off",
            Self::Empty => "file_empty",
        }
    }

    pub(crate) fn type_not_allowed(found: &str, allowed: &[FileGroup]) -> Self {
        let allowed = if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Self::TypeNotAllowed {
            found: found.to_owned(),
            allowed,
        }
    }
}
