//! The OpenAPI document of everything the server answers, generated from the handlers.

use axum::Json;
use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::health::{self, Health};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tandem API",
        description = "Live chat: widget, operator workspace, tenant admin and platform API."
    ),
    paths(health::healthz),
    components(schemas(Health, ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
