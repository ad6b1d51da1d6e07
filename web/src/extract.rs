//! Request extractors whose failures answer in the API's error shape: a malformed body, query or
//! id never reaches a handler, and never produces axum's plain-text rejections.

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON object as the request body (`Content-Type: application/json`).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        object(&bytes)
    }
}

/// Every body of the API is an object: serde would also take a struct from a JSON array
/// (`[null, null]`), which no client means.
fn object<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(JsonBody(value)),
        Err(refused @ JsonRejection::JsonDataError(_)) => with_whole_numbers(bytes)
            .and_then(|value| serde_json::from_value(value).ok())
            .map(JsonBody)
            .ok_or_else(|| json_rejection(refused)),
        Err(rejection) => Err(json_rejection(rejection)),
    }
}

/// JSON does not tell `207` from `207.0`, and JSON Schema counts both as integers; serde
/// refuses the second for an integer field. A body refused for its types is read once more
/// with each whole-valued number as an integer (`None`: there was none, the refusal stands).
/// Only refused bodies pay for this.
fn with_whole_numbers(bytes: &[u8]) -> Option<serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    whole_numbers_as_integers(&mut value).then_some(value)
}

/// Rewrites whole-valued floats in place; true when there was one. The depth is bounded by
/// serde_json's own nesting limit on what it parsed.
fn whole_numbers_as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    /// Beyond 2^53 a float no longer holds every whole number exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) => {
            let Some(f) = n.as_f64().filter(|_| n.is_f64()) else {
                return false;
            };
            if f.fract() != 0.0 || f.abs() > EXACT {
                return false;
            }
            *value = if f < 0.0 {
                Value::from(f as i64)
            } else {
                Value::from(f as u64)
            };
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |found, item| whole_numbers_as_integers(item) | found),
        Value::Object(fields) => fields.values_mut().fold(false, |found, field| {
            whole_numbers_as_integers(field) | found
        }),
        _ => false,
    }
}

/// `application/json`, or an `application/…+json` type, as axum's own `Json` takes.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let suffixed = subtype.len() > "+json".len()
        && subtype
            .get(subtype.len() - "+json".len()..)
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"));
    kind.eq_ignore_ascii_case("application") && (subtype.eq_ignore_ascii_case("json") || suffixed)
}

/// A JSON body that may be left out entirely (no body, an empty one or `null` means the
/// default).
pub struct OptionalJsonBody<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() || trimmed == b"null" {
            return Ok(Self(T::default()));
        }
        object(&bytes).map(|JsonBody(value)| Self(value))
    }
}

/// A query string.
pub struct QueryParams<T>(pub T);

/// How many items a list query asks for: 1 to `MAX`, as the document states. Outside that it
/// is refused (400) rather than quietly cut, so a client never mistakes a short page for the
/// end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize<const MAX: u64>(pub u64);

impl<'de, const MAX: u64> serde::Deserialize<'de> for PageSize<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let size = u64::deserialize(deserializer)?;
        if (1..=MAX).contains(&size) {
            Ok(Self(size))
        } else {
            Err(serde::de::Error::custom(format!(
                "limit: must be 1 to {MAX}"
            )))
        }
    }
}

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", e.body_text())
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) => bytes_rejection(e),
        other => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", other.body_text()),
    }
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the request body could not be read",
        )
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        rejection.body_text(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Limits {
        operators: u32,
        offset: Option<i32>,
    }

    fn read(body: &str) -> Result<Limits, ApiError> {
        object::<Limits>(body.as_bytes()).map(|JsonBody(limits)| limits)
    }

    #[test]
    fn whole_numbers_written_as_floats_are_integers() {
        let expected = Limits {
            operators: 207,
            offset: Some(-3),
        };
        assert_eq!(
            read(r#"{"operators": 207, "offset": -3}"#).ok(),
            Some(expected)
        );
        let floats = read(r#"{"operators": 207.0, "offset": -3e0}"#);
        assert_eq!(
            floats.ok(),
            Some(Limits {
                operators: 207,
                offset: Some(-3)
            })
        );
        for refused in [
            r#"{"operators": 207.5}"#,
            r#"{"operators": 1e300}"#,
            r#"{"operators": -1.0}"#,
            r#"{"operators": "207"}"#,
        ] {
            let error = read(refused).expect_err(refused);
            assert_eq!(error.code, "invalid_input", "{refused}");
        }
    }
}
