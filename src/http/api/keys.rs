//! `/api/v1/users/:userID/api-tokens`: a user's API keys.

use axum::extract::State;
use futures_util::{Stream, stream};
use serde_json::{Value, json};

use super::views::{IssuedKeyDocument, ListedKey};
use crate::domain::ApiKey;
use crate::http::AppState;
use crate::http::envelope::{ApiError, ApiOk, ApiOkList, ApiResult};
use crate::http::extract::{ApiJson, ApiPath, PathUser};
use crate::service::ServiceError;
use crate::service::keys::KeyRequest;

/// Sent a page at a time: a user may hold a hundred thousand keys.
pub async fn list(
    State(state): State<AppState>,
    PathUser { caller, user }: PathUser,
) -> Result<ApiOkList<ListedKey, impl Stream<Item = Result<Vec<ListedKey>, ServiceError>>>, ApiError> {
    let mut pages = state.svc.key_pages(&caller, user.id)?;
    let first = pages.next_page().await?.unwrap_or_default();
    let rest = stream::unfold(Some(pages), |pages| async move {
        let mut pages = pages?;
        match pages.next_page().await {
            Ok(Some(page)) => Some((Ok(listed(page)), Some(pages))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok(ApiOkList { first: listed(first), rest, describe: |n| format!("Returned {n} API keys.") })
}

fn listed(page: Vec<ApiKey>) -> Vec<ListedKey> {
    page.into_iter().map(ListedKey).collect()
}

pub async fn create(
    State(state): State<AppState>,
    PathUser { caller, user }: PathUser,
    ApiJson(req): ApiJson<KeyRequest>,
) -> ApiResult<IssuedKeyDocument> {
    let issued = state.svc.create_key(&caller, user.id, req).await?;
    let description = match &issued.client {
        Some((client, replaced)) if *replaced > 0 => format!(
            "Created a new API key for {}. Your previous key for this client was revoked: keys are stored hashed, \
             so an existing one cannot be shown again, only replaced.",
            client.name
        ),
        Some((client, _)) => format!("Created an API key for {}.", client.name),
        None => "Created an API key. Save the token now: it is not shown again.".into(),
    };
    Ok(ApiOk(description, IssuedKeyDocument { key: issued.key, token: issued.token }))
}

pub async fn revoke(
    State(state): State<AppState>,
    PathUser { caller, user }: PathUser,
    ApiPath((_, key_id)): ApiPath<(String, String)>,
) -> ApiResult<Value> {
    state.svc.revoke_key(&caller, user.id, &key_id).await?;
    Ok(ApiOk("Revoked the API key.".into(), json!({})))
}
