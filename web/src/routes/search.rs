//! Search across the tenant's dialogs.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tandem_core::search::{MAX_HITS, SearchHit};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::OperatorAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PageSize, QueryParams};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find (each as the start of a word; all of them), in messages and in visitors'
    /// names and email addresses.
    #[param(max_length = 200)]
    pub q: String,
    /// At most this many of each kind of hit (default 20).
    #[param(value_type = u64, minimum = 1, maximum = 50, required = false, nullable = false)]
    pub limit: Option<PageSize<MAX_HITS>>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    /// Dialogs whose visitor's name or address matched (no `message`), then messages that
    /// matched, newest first, each with its dialog and where it is in it (`seq`).
    pub hits: Vec<SearchHit>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "operator",
    params(SearchParams),
    responses((status = 200, description = "Nothing found, too, for text without a letter or digit", body = SearchResults), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    auth: OperatorAuth,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Json<SearchResults>, ApiError> {
    let limit = params.limit.map_or(20, |size| size.0);
    let hits = state
        .tandem
        .search
        .search(&auth.actor, &params.q, limit)
        .await?;
    Ok(Json(SearchResults { hits }))
}
