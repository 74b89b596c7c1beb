//! `/api/v1/status`: who the server thinks you are, and an echo.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::http::AppState;
use crate::http::envelope::{ApiOk, ApiResult};
use crate::http::extract::{ApiQuery, Auth, OptionalJson};
use crate::service::Caller;

#[derive(Deserialize, Default)]
pub struct EchoParams {
    echo: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    server_time: i64,
    start_time: i64,
    version: &'static str,
    whoami: Option<i64>,
    permissions: Vec<&'static str>,
    echo: Option<String>,
}

fn status(state: &AppState, caller: &Caller, echo: Option<String>) -> ApiOk<Status> {
    ApiOk(
        "Status check successful.".into(),
        Status {
            server_time: state.svc.now_ms(),
            start_time: state.svc.started_at,
            version: env!("CARGO_PKG_VERSION"),
            whoami: caller.user.as_ref().map(|u| u.id),
            permissions: caller.permissions.names(),
            echo,
        },
    )
}

pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(p): ApiQuery<EchoParams>,
) -> ApiResult<Status> {
    Ok(status(&state, &caller, p.echo))
}

/// POST takes `{echo?}`; an empty body is fine too, a body that is not JSON is not.
pub async fn post(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OptionalJson(p): OptionalJson<EchoParams>,
) -> ApiResult<Status> {
    Ok(status(&state, &caller, p.echo))
}
