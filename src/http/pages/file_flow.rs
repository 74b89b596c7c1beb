//! The Client File Flow: `/client-file-flow/:clientID` creates a key for a
//! desktop program and hands it over as a file (or text to copy).

use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{PageResult, initial, page_user, permission_lines, render, unknown_client};
use crate::domain::client::render_key_file;
use crate::http::AppState;
use crate::http::extract::{NoFields, PageForm};
use crate::service::ServiceError;

#[derive(Template)]
#[template(path = "file_flow.html")]
struct FileFlowPage<'a> {
    site: &'a str,
    username: &'a str,
    csrf: &'a str,
    client_id: &'a str,
    client_name: &'a str,
    initial: String,
    author: &'a str,
    /// The operator's own client (configured, not made by a user).
    builtin: bool,
    permissions: Vec<(&'static str, &'static str)>,
    filename: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "file_flow_done.html")]
struct FileFlowDone<'a> {
    site: &'a str,
    username: &'a str,
    client_name: &'a str,
    replaced: u64,
    filename: Option<&'a str>,
    file_text: &'a str,
    file_base64: String,
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    OriginalUri(uri): OriginalUri,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> PageResult {
    let Path(client_id) = path?;
    let client = match state.svc.client(&client_id).await {
        Err(ServiceError::NotFound(_)) => return Err(unknown_client(StatusCode::NOT_FOUND)),
        found => found?,
    };
    let user = page_user(&state, &jar, &uri.to_string()).await?;
    let author = state.svc.client_author_name(&client).await?;
    Ok(render(&FileFlowPage {
        site: &state.web.site_name,
        username: &user.user.username,
        csrf: &user.csrf,
        client_id: &client.client_id,
        client_name: &client.name,
        initial: initial(&client.name),
        author: &author,
        builtin: client.author_id.is_none(),
        permissions: permission_lines(client.permissions.iter()),
        filename: client.api_key_filename.as_deref(),
    }))
}

pub async fn create(
    State(state): State<AppState>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    form: PageForm<NoFields>,
) -> PageResult {
    let Path(client_id) = path?;
    let user = form.sender;
    let issued = match state.svc.create_client_key(user.user.id, &client_id).await {
        Err(ServiceError::NotFound(_)) => return Err(unknown_client(StatusCode::NOT_FOUND)),
        issued => issued?,
    };
    let (client, replaced) = issued.client.as_ref().expect("a client key has its client");
    let file_text = match &client.api_key_format {
        Some(format) => render_key_file(format, issued.token.expose()),
        None => issued.token.expose().to_owned(),
    };
    Ok(render(&FileFlowDone {
        site: &state.web.site_name,
        username: &user.user.username,
        client_name: &client.name,
        replaced: *replaced,
        filename: client.api_key_filename.as_deref(),
        file_base64: STANDARD.encode(file_text.as_bytes()),
        file_text: &file_text,
    }))
}
