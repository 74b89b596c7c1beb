//! `/`: the user's dashboard — the keys that apps hold (revoke) and the
//! user's own API clients (create, edit, reset secret, delete).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{PageError, PageResult, PageUser, for_people, format_time, page_user, permission_lines, render};
use crate::domain::{Client, KeyCursor, WebhookDelivery};
use crate::domain::{Permission, PermissionSet};
use crate::http::AppState;
use crate::http::extract::{ClientIp, NoFields, PageForm};
use crate::service::ServiceError;
use crate::service::clients::{ClientDraft, ClientEdit};
use crate::service::recovery::PasswordChange;

/// Keys shown on one screen of the dashboard; "More keys" shows the next ones.
const KEYS_PER_SCREEN: usize = 100;

struct KeyRow {
    id: String,
    identifier: String,
    client: Option<String>,
    permissions: Vec<&'static str>,
    created: String,
    last_used: String,
}

struct ClientRow {
    client_id: String,
    name: String,
    redirect_uri: Option<String>,
    webhook_uri: Option<String>,
    /// The client has a webhook signing secret (one made before webhooks
    /// were signed has none until it is rotated).
    signed: bool,
    deliveries: Vec<DeliveryRow>,
    permissions: Vec<&'static str>,
    auth_link: String,
    file_flow_link: String,
    /// What the edit form shows: the client's values, or what the user just
    /// typed when saving it failed (then the form is open).
    form: ClientFields,
    edit_open: bool,
}

/// The values of a client form, as text fields hold them.
#[derive(Default, Clone)]
struct ClientFields {
    name: String,
    redirect_uri: String,
    webhook_uri: String,
    api_key_format: String,
    api_key_filename: String,
    require_pkce: bool,
    permissions: Vec<String>,
    /// Grant names; none means the default, the code grant.
    grants: Vec<String>,
}

impl ClientFields {
    fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// Whether the grant's box is ticked (the code grant's, by default).
    fn grant(&self, name: &str) -> bool {
        if self.grants.is_empty() { name == "authorization_code" } else { self.grants.iter().any(|g| g == name) }
    }

    fn of(c: &Client) -> Self {
        ClientFields {
            name: c.name.clone(),
            redirect_uri: c.redirect_uri.clone().unwrap_or_default(),
            webhook_uri: c.webhook_uri.clone().unwrap_or_default(),
            api_key_format: c.api_key_format.clone().unwrap_or_default(),
            api_key_filename: c.api_key_filename.clone().unwrap_or_default(),
            require_pkce: c.require_pkce,
            permissions: c.permissions.names().into_iter().map(str::to_owned).collect(),
            grants: c.grants.names().into_iter().map(str::to_owned).collect(),
        }
    }
}

/// A form whose action failed, kept so that nothing the user typed is lost.
enum Kept {
    Nothing,
    NewClient(ClientFields),
    Edit { client_id: String, fields: ClientFields },
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    site: &'a str,
    username: &'a str,
    csrf: &'a str,
    notice: Option<&'static str>,
    error: Option<String>,
    keys: Vec<KeyRow>,
    /// The link to the keys after these, if there are more.
    more_keys: Option<String>,
    /// These are not the first keys: offer the way back to them.
    later_keys: bool,
    clients: Vec<ClientRow>,
    client_cap: i64,
    /// Admins own any number of clients.
    is_admin: bool,
    all_permissions: Vec<(&'static str, &'static str)>,
    new_client: ClientFields,
    create_open: bool,
    /// Mail is configured and the user's address is not verified yet.
    unverified: bool,
    log: Vec<LogRow>,
    /// The link to older events, if there are more.
    older_log: Option<String>,
}

/// A webhook delivery as the dashboard lists it.
struct DeliveryRow {
    event_id: String,
    event: String,
    when: String,
    /// `pending`, `delivered` or `failed`: also the badge's class.
    state: String,
    /// Attempts, the last answer, and what comes next, in words.
    detail: String,
}

fn delivery_row(d: WebhookDelivery) -> DeliveryRow {
    let attempts = match d.attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    };
    let last = match (d.last_status, d.last_error.as_deref()) {
        (Some(status), _) if d.state == "delivered" => format!("answered {status}"),
        (_, Some(error)) => error.to_owned(),
        (Some(status), None) => format!("answered {status}"),
        (None, None) => String::new(),
    };
    let next = match d.state.as_str() {
        "pending" if d.attempts == 0 => "sending".to_owned(),
        "pending" => format!("next attempt {}", format_time(d.next_attempt_at)),
        "failed" => "given up".to_owned(),
        _ => String::new(),
    };
    let detail = [attempts, last, next].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" · ");
    DeliveryRow { event_id: d.event_id, event: d.event, when: format_time(d.created_at), state: d.state, detail }
}

struct LogRow {
    when: String,
    event: String,
    actor: String,
    client: Option<String>,
    detail: Option<String>,
    ip: String,
    user_agent: String,
}

#[derive(Template)]
#[template(path = "client_secret.html")]
struct SecretPage<'a> {
    site: &'a str,
    username: &'a str,
    heading: String,
    client_name: &'a str,
    client_id: &'a str,
    secret: Option<&'a str>,
    /// The webhook signing secret, when just made.
    webhook_secret: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct DashboardQuery {
    notice: Option<String>,
    /// Where the previous screen of keys stopped (see [`key_cursor`]).
    keys_after: Option<String>,
    /// The security log's events older than this event id.
    log_before: Option<i64>,
}

/// A screen of keys ends at its last key: `<created_at>.<key id>`, the
/// listing's order, so the next screen starts after it whatever was added
/// or revoked meanwhile.
fn key_cursor_text((created_at, id): &KeyCursor) -> String {
    format!("{created_at}.{id}")
}

fn key_cursor(text: &str) -> Option<KeyCursor> {
    let (created_at, id) = text.split_once('.')?;
    let id_ok = crate::domain::secret::is_well_formed_id(id);
    Some((created_at.parse().ok()?, id.to_owned())).filter(|_| id_ok)
}

/// Notices come from a fixed list, so a link cannot put words on our page.
fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "declined" => Some("You declined the request. Nothing was sent to the application."),
        "public-client" => {
            Some("Created a public client. It has no secret: the program signs players in with its client ID and PKCE.")
        }
        "key-revoked" => Some("The key was revoked. The application can no longer use it."),
        "client-deleted" => Some("The client was deleted, and every key it issued was revoked."),
        "client-updated" => Some("The client was updated."),
        "password-changed" => Some("Your password was changed. Every other device was logged out."),
        "password-reset" => Some("Your new password is set, and you are logged in."),
        "verification-sent" => Some("A new verification link is on its way to your e-mail address."),
        _ => None,
    }
}

fn perms_text(p: PermissionSet) -> Vec<&'static str> {
    p.names()
}

async fn dashboard(
    state: &AppState,
    user: &PageUser,
    notice: Option<&'static str>,
    error: Option<String>,
    kept: Kept,
    keys_after: Option<&KeyCursor>,
    log_before: Option<i64>,
) -> PageResult {
    let (keys, more) = state.svc.key_page(&user.caller, user.user.id, keys_after, KEYS_PER_SCREEN).await?;
    let more_keys = more
        .then(|| keys.last().map(|k| format!("/?keys_after={}#keys", key_cursor_text(&(k.created_at, k.id.clone())))))
        .flatten();
    let clients = state.svc.my_clients(&user.caller).await?;
    let base = state.web.issuer();
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            permissions: perms_text(k.permissions),
            created: format_time(k.created_at),
            last_used: k.last_used_at.map_or_else(|| "never".into(), format_time),
            client: k.client_name,
            identifier: k.identifier,
            id: k.id,
        })
        .collect();
    let mut rows = Vec::with_capacity(clients.len());
    for c in &clients {
        let mut row = client_row(c, &base);
        let (deliveries, signed) = state.svc.webhook_deliveries(&user.caller, &c.client_id).await?;
        row.signed = signed;
        row.deliveries = deliveries.into_iter().map(delivery_row).collect();
        rows.push(row);
    }
    let mut clients = rows;
    let new_client = match kept {
        Kept::Nothing => None,
        Kept::NewClient(fields) => Some(fields),
        Kept::Edit { client_id, fields } => {
            if let Some(row) = clients.iter_mut().find(|r| r.client_id == client_id) {
                row.form = fields;
                row.edit_open = true;
            }
            None
        }
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let unverified = state.svc.mailer.is_some() && !state.svc.email_verified(user.user.id).await?;
    let (events, more_log) = state.svc.security_log(&user.caller, user.user.id, log_before).await?;
    let older_log = more_log.then(|| events.last().map(|e| format!("/?log_before={}#security-log", e.id))).flatten();
    let log = events
        .into_iter()
        .map(|e| LogRow {
            when: format_time(e.at),
            event: e.event,
            actor: e.actor,
            client: e.client_id,
            detail: e.detail,
            ip: e.ip.unwrap_or_else(|| "—".into()),
            user_agent: e.user_agent.unwrap_or_default(),
        })
        .collect();
    let mut res = render(&Dashboard {
        unverified,
        log,
        older_log,
        site: &state.web.site_name,
        username: &user.user.username,
        csrf: &user.csrf,
        notice,
        error,
        keys,
        more_keys,
        later_keys: keys_after.is_some(),
        clients,
        client_cap: state.svc.settings.client_cap,
        is_admin: user.user.is_admin,
        all_permissions: permission_lines(Permission::ALL.into_iter()),
        create_open: new_client.is_some(),
        new_client: new_client.unwrap_or_default(),
    });
    *res.status_mut() = status;
    Ok(res)
}

fn client_row(c: &Client, base: &str) -> ClientRow {
    ClientRow {
        client_id: c.client_id.clone(),
        name: c.name.clone(),
        redirect_uri: c.redirect_uri.clone(),
        webhook_uri: c.webhook_uri.clone(),
        signed: false,
        deliveries: Vec::new(),
        form: ClientFields::of(c),
        edit_open: false,
        permissions: perms_text(c.permissions),
        auth_link: format!("{base}/oauth/request-auth?clientID={}", c.client_id),
        file_flow_link: format!("{base}/client-file-flow/{}", c.client_id),
    }
}

pub async fn show(State(state): State<AppState>, jar: CookieJar, Query(q): Query<DashboardQuery>) -> PageResult {
    let user = page_user(&state, &jar, "/").await?;
    let keys_after = match q.keys_after.as_deref().map(key_cursor) {
        None => None,
        Some(Some(cursor)) => Some(cursor),
        Some(None) => {
            return Err(PageError::bad_request("That link to more keys is damaged: go back to your dashboard."));
        }
    };
    dashboard(&state, &user, notice_text(q.notice.as_deref()), None, Kept::Nothing, keys_after.as_ref(), q.log_before)
        .await
}

/// A failed dashboard action: the dashboard again, with the reason on top
/// and the user's input back in its form.
async fn show_error(state: &AppState, user: &PageUser, e: ServiceError, kept: Kept) -> PageResult {
    match e {
        ServiceError::Invalid(_) | ServiceError::Conflict(_) => {
            dashboard(state, user, None, Some(for_people(&e)), kept, None, None).await
        }
        e => Err(e.into()),
    }
}

fn secret_page(
    state: &AppState,
    user: &PageUser,
    heading: String,
    client: &Client,
    secret: Option<&str>,
    webhook_secret: Option<&str>,
) -> Response {
    render(&SecretPage {
        site: &state.web.site_name,
        username: &user.user.username,
        heading,
        client_name: &client.name,
        client_id: &client.client_id,
        secret,
        webhook_secret,
    })
}

/// Empty form fields mean "none".
fn filled(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[derive(Deserialize)]
pub struct ClientForm {
    name: String,
    redirect_uri: Option<String>,
    webhook_uri: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
    api_key_format: Option<String>,
    api_key_filename: Option<String>,
    require_pkce: Option<String>,
    /// "A program on the player's computer": a public client.
    public: Option<String>,
    /// Ticked grants; none ticked leaves the default (the code grant).
    #[serde(default)]
    grants: Vec<String>,
}

pub async fn create_client(State(state): State<AppState>, form: PageForm<ClientForm>) -> PageResult {
    let PageForm { sender: user, fields: f } = form;
    let typed = ClientFields {
        name: f.name.clone(),
        redirect_uri: f.redirect_uri.clone().unwrap_or_default(),
        webhook_uri: f.webhook_uri.clone().unwrap_or_default(),
        api_key_format: f.api_key_format.clone().unwrap_or_default(),
        api_key_filename: f.api_key_filename.clone().unwrap_or_default(),
        require_pkce: f.require_pkce.is_some(),
        permissions: f.permissions.clone(),
        grants: f.grants.clone(),
    };
    let permissions = match PermissionSet::parse_list(&f.permissions) {
        Ok(p) => p,
        Err(e) => {
            let e = ServiceError::Invalid(e.to_string());
            return show_error(&state, &user, e, Kept::NewClient(typed)).await;
        }
    };
    let draft = ClientDraft {
        name: f.name,
        redirect_uri: filled(f.redirect_uri),
        webhook_uri: filled(f.webhook_uri),
        permissions,
        api_key_format: f.api_key_format.filter(|s| !s.trim().is_empty()),
        api_key_filename: filled(f.api_key_filename),
        require_pkce: f.require_pkce.is_some(),
        public: f.public.is_some(),
        grants: (!f.grants.is_empty()).then_some(f.grants),
    };
    match state.svc.create_client(&user.caller, draft).await {
        Ok(created) => {
            let c = &created.client;
            let heading = match &created.secret {
                Some(_) => format!("Created {}", c.name),
                None => format!("Created public client {}", c.name),
            };
            let secret = created.secret.as_ref().map(|s| s.expose());
            Ok(secret_page(&state, &user, heading, c, secret, Some(created.webhook_secret.expose())))
        }
        Err(e) => show_error(&state, &user, e, Kept::NewClient(typed)).await,
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    name: Option<String>,
    redirect_uri: Option<String>,
    webhook_uri: Option<String>,
    api_key_format: Option<String>,
    api_key_filename: Option<String>,
    require_pkce: Option<String>,
    /// Ticked grants; none ticked leaves them as they are.
    #[serde(default)]
    grants: Vec<String>,
}

pub async fn edit_client(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    form: PageForm<EditForm>,
) -> PageResult {
    let PageForm { sender: user, fields: f } = form;
    let typed = ClientFields {
        name: f.name.clone().unwrap_or_default(),
        redirect_uri: f.redirect_uri.clone().unwrap_or_default(),
        webhook_uri: f.webhook_uri.clone().unwrap_or_default(),
        api_key_format: f.api_key_format.clone().unwrap_or_default(),
        api_key_filename: f.api_key_filename.clone().unwrap_or_default(),
        require_pkce: f.require_pkce.is_some(),
        permissions: Vec::new(),
        grants: f.grants.clone(),
    };
    let edit = ClientEdit {
        name: f.name,
        redirect_uri: Some(filled(f.redirect_uri)),
        webhook_uri: Some(filled(f.webhook_uri)),
        api_key_format: Some(f.api_key_format.filter(|s| !s.trim().is_empty())),
        api_key_filename: Some(filled(f.api_key_filename)),
        require_pkce: Some(f.require_pkce.is_some()),
        grants: (!f.grants.is_empty()).then_some(f.grants),
    };
    match state.svc.edit_client(&user.caller, &client_id, edit).await {
        Ok(_) => Ok(Redirect::to("/?notice=client-updated").into_response()),
        Err(e) => {
            let kept = Kept::Edit { client_id: client_id.clone(), fields: typed };
            show_error(&state, &user, e, kept).await
        }
    }
}

pub async fn reset_secret(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    form: PageForm<NoFields>,
) -> PageResult {
    let user = form.sender;
    let (client, secret) = state.svc.reset_client_secret(&user.caller, &client_id).await?;
    Ok(secret_page(&state, &user, format!("New secret for {}", client.name), &client, Some(secret.expose()), None))
}

pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    form: PageForm<NoFields>,
) -> PageResult {
    let user = form.sender;
    let (client, secret) = state.svc.rotate_webhook_secret(&user.caller, &client_id).await?;
    let heading = format!("New webhook secret for {}", client.name);
    Ok(secret_page(&state, &user, heading, &client, None, Some(secret.expose())))
}

pub async fn delete_client(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    form: PageForm<NoFields>,
) -> PageResult {
    let user = form.sender;
    state.svc.delete_client(&user.caller, &client_id).await?;
    Ok(Redirect::to("/?notice=client-deleted").into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
    form: PageForm<NoFields>,
) -> PageResult {
    let user = form.sender;
    state.svc.revoke_key(&user.caller, user.user.id, &key_id).await?;
    Ok(Redirect::to("/?notice=key-revoked").into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    old_password: String,
    password: String,
}

/// The dashboard's "Change password" form.
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: PageForm<PasswordForm>,
) -> PageResult {
    let PageForm { sender: user, fields: f } = form;
    let change = PasswordChange { password: f.password, old_password: f.old_password };
    match state.svc.change_password(&user.caller, user.user.id, change, &ip).await {
        Ok(()) => Ok(Redirect::to("/?notice=password-changed").into_response()),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Unauthenticated(_))) => {
            dashboard(&state, &user, None, Some(for_people(&e)), Kept::Nothing, None, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The banner's "Send the link again".
pub async fn resend_verification(State(state): State<AppState>, form: PageForm<NoFields>) -> PageResult {
    let user = form.sender;
    state.svc.resend_verify_email(&user.caller).await?;
    Ok(Redirect::to("/?notice=verification-sent").into_response())
}
