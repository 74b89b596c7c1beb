//! `/api/v1/clients`: an integration author's API clients.

use axum::extract::State;
use serde_json::{Value, json};

use super::views::{ClientView, DeliveryView};
use crate::http::AppState;
use crate::http::envelope::{ApiOk, ApiResult};
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::service::clients::{ClientDraft, ClientEdit};

fn view(c: &crate::domain::Client, secret: Option<&str>) -> Value {
    serde_json::to_value(ClientView::new(c, secret)).unwrap_or(Value::Null)
}

pub async fn list(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Vec<Value>> {
    let clients = state.svc.my_clients(&caller).await?;
    let n = clients.len();
    Ok(ApiOk(format!("Returned {n} clients."), clients.iter().map(|c| view(c, None)).collect()))
}

pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(draft): ApiJson<ClientDraft>,
) -> ApiResult<Value> {
    let created = state.svc.create_client(&caller, draft).await?;
    let client = &created.client;
    let description = match &created.secret {
        Some(_) => format!(
            "Created client {}. Save the clientSecret and webhookSecret now: they are not shown again.",
            client.name
        ),
        None => format!(
            "Created public client {}. It has no secret: it authenticates with its clientID and PKCE. \
             Save the webhookSecret now: it is not shown again.",
            client.name
        ),
    };
    let mut view = ClientView::new(client, created.secret.as_ref().map(|s| s.expose()));
    view.webhook_secret = Some(created.webhook_secret.expose());
    Ok(ApiOk(description, serde_json::to_value(view).unwrap_or(Value::Null)))
}

pub async fn get(State(state): State<AppState>, ApiPath(client_id): ApiPath<String>) -> ApiResult<Value> {
    let client = state.svc.client(&client_id).await?;
    Ok(ApiOk(format!("Found client {}.", client.name), view(&client, None)))
}

pub async fn edit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(client_id): ApiPath<String>,
    ApiJson(edit): ApiJson<ClientEdit>,
) -> ApiResult<Value> {
    let client = state.svc.edit_client(&caller, &client_id, edit).await?;
    Ok(ApiOk(format!("Updated client {}.", client.name), view(&client, None)))
}

pub async fn reset_secret(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(client_id): ApiPath<String>,
) -> ApiResult<Value> {
    let (client, secret) = state.svc.reset_client_secret(&caller, &client_id).await?;
    Ok(ApiOk(
        format!("Reset the secret of {}. The old secret no longer works; issued keys stay valid.", client.name),
        view(&client, Some(secret.expose())),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(client_id): ApiPath<String>,
) -> ApiResult<Value> {
    let client = state.svc.delete_client(&caller, &client_id).await?;
    Ok(ApiOk(format!("Deleted client {} and every key it issued.", client.name), json!({})))
}

pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(client_id): ApiPath<String>,
) -> ApiResult<Value> {
    let (client, secret) = state.svc.rotate_webhook_secret(&caller, &client_id).await?;
    let mut view = ClientView::new(&client, None);
    view.webhook_secret = Some(secret.expose());
    Ok(ApiOk(
        format!(
            "Rotated the webhook secret of {}. Events are signed with the new one from now on: save it now, \
             it is not shown again.",
            client.name
        ),
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

pub async fn webhook_deliveries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(client_id): ApiPath<String>,
) -> ApiResult<Vec<Value>> {
    let (deliveries, _) = state.svc.webhook_deliveries(&caller, &client_id).await?;
    let n = deliveries.len();
    let views = deliveries.iter().map(|d| serde_json::to_value(DeliveryView::new(d)).unwrap_or(Value::Null)).collect();
    Ok(ApiOk(format!("Returned the {n} most recent deliveries."), views))
}
