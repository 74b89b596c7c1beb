//! `/api/v1/users/:userID`: the public profile, and the example resource an
//! API key protects (`PATCH`, needs `customise_profile`).

use axum::extract::State;

use super::views::UserView;
use crate::http::AppState;
use crate::http::envelope::{ApiOk, ApiResult};
use crate::http::extract::{ApiJson, PathUser};
use crate::service::accounts::ProfileChanges;

pub async fn get(PathUser { user, .. }: PathUser) -> ApiResult<UserView> {
    Ok(ApiOk(format!("Found user {}.", user.username), UserView::from(&user)))
}

pub async fn patch(
    State(state): State<AppState>,
    PathUser { caller, user }: PathUser,
    ApiJson(changes): ApiJson<ProfileChanges>,
) -> ApiResult<UserView> {
    let user = state.svc.update_profile(&caller, user.id, changes).await?;
    Ok(ApiOk(format!("Updated the profile of {}.", user.username), UserView::from(&user)))
}
