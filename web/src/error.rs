//! The one place where domain errors become HTTP answers, in the error shape of the API
//! contract: `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tandem_core::CoreError;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `not_found`, `invalid_input`.
    pub code: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for `429 Too Many Requests`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; slow down",
            )
        }
    }

    /// A socket frame that is not one of the documented ones.
    pub fn invalid_frame(err: serde_json::Error) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_frame",
            format!("not a frame this socket understands: {err}"),
        )
    }

    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.to_owned(),
            message: self.message.clone(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        let message = err.to_string();
        let (status, code) = match &err {
            CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            CoreError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_input"),
            CoreError::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
            CoreError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            CoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            CoreError::LimitReached(_) => (StatusCode::UNPROCESSABLE_ENTITY, "limit_reached"),
            CoreError::Unusable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unusable"),
            CoreError::TenantSuspended => (StatusCode::FORBIDDEN, "tenant_suspended"),
            CoreError::RateLimited { retry_after_secs } => {
                return Self {
                    message,
                    ..Self::rate_limited(*retry_after_secs)
                };
            }
            CoreError::Busy(_) => {
                let mut busy = Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message);
                busy.retry_after = Some(1);
                return busy;
            }
            CoreError::File(refusal) => {
                use tandem_core::file::FileRefusal;
                let status = match refusal {
                    FileRefusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    FileRefusal::TypeNotAllowed { .. }
                    | FileRefusal::Disguised { .. }
                    | FileRefusal::Unreadable { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    FileRefusal::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
                    FileRefusal::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
                    FileRefusal::Off => StatusCode::FORBIDDEN,
                    FileRefusal::Empty => StatusCode::BAD_REQUEST,
                };
                (status, refusal.code())
            }
            CoreError::FilesUnavailable(reason) => {
                tracing::error!(%reason, "file store error");
                let mut unavailable = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "files_unavailable",
                    "files cannot be stored or read just now; try again",
                );
                unavailable.retry_after = Some(5);
                return unavailable;
            }
            CoreError::Storage(e) => {
                tracing::error!(error = %e, "storage error");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is temporarily unavailable; try again",
                );
            }
        };
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_has_its_status_and_code() {
        let cases = [
            (
                CoreError::NotFound("chat"),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                CoreError::Invalid {
                    field: "body",
                    reason: "must not be empty".into(),
                },
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            (
                CoreError::NotAllowed("no"),
                StatusCode::FORBIDDEN,
                "not_allowed",
            ),
            (
                CoreError::Unauthorized("who?"),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                CoreError::Conflict("taken".into()),
                StatusCode::CONFLICT,
                "conflict",
            ),
            (
                CoreError::LimitReached("3 operators at most".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
                "limit_reached",
            ),
            (
                CoreError::TenantSuspended,
                StatusCode::FORBIDDEN,
                "tenant_suspended",
            ),
            (
                CoreError::Storage(sea_orm::DbErr::Custom("disk on fire".into())),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!((api.status, api.code), (status, code));
            assert!(
                !api.message.contains("disk on fire"),
                "storage details stay in the logs"
            );
        }
    }
}
