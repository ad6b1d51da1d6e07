//! What can go wrong in the domain. The web crate maps each variant to a status and a code.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Unknown, or belonging to another tenant: the two are never told apart.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that is malformed or out of range; `field` names what was wrong.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Well-formed, but not usable for what it is meant for (a key that is not a point of
    /// its curve): the same input will not pass later either.
    #[error("{field}: {reason}")]
    Unusable { field: &'static str, reason: String },
    /// Authenticated, but this actor may not do this.
    #[error("{0}")]
    NotAllowed(&'static str),
    /// Missing, unknown or expired credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The request clashes with the current state (a taken slug or email, a reused client id).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but over a limit the platform admin set for the tenant.
    #[error("{0}")]
    LimitReached(String),
    /// Over the tenant's messages a minute; the same message may pass after the wait.
    #[error("too many messages in this company's chats; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The tenant is suspended by the platform admin.
    #[error("tenant is suspended")]
    TenantSuspended,
    /// Too much of a bounded resource is in use right now; the same request may pass shortly.
    #[error("{0}")]
    Busy(&'static str),
    #[error("{0}")]
    File(#[from] crate::file::FileRefusal),
    #[error("files cannot be stored or read just now: {0}")]
    FilesUnavailable(String),
    #[error("storage: {0}")]
    Storage(#[from] DbErr),
}

impl CoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;

/// True when the database refused a row because a unique index already holds its key.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// True when the database answered a statement with an error: it did not run, and nothing of it
/// is committed. Not so for a connection lost on the way, after which whether a statement that
/// commits on its own ran is not known (see `Storage::write_updating`).
pub(crate) fn is_refused_statement(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(**e, sea_orm::sqlx::Error::Database(_))
        }
        _ => false,
    }
}
