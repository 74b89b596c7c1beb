//! API clients: registration by an integration author, and their management.

use serde::Deserialize;

use crate::domain::client::{self, ClientName};
use crate::domain::secret::random_id;
use crate::domain::webhook::SigningSecret;
use crate::domain::{Client, ClientChanges};
use crate::domain::{Invalid, PermissionSet, PlainSecret, SecretKind};

use super::audit::actor;
use super::{Caller, Service, ServiceError, ServiceResult, present};

/// What a person is told when a link names an application that does not
/// exist: the consent links and the Client File Flow's alike.
pub const UNKNOWN_CLIENT: &str = "No application with this ID exists. It may have been deleted.";

/// A new client as its author describes it. `apiKeyTemplate` is the original
/// server's name for `apiKeyFormat`; both are accepted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientDraft {
    pub name: String,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub webhook_uri: Option<String>,
    #[serde(alias = "requestedPermissions")]
    pub permissions: PermissionSet,
    #[serde(default, alias = "apiKeyTemplate")]
    pub api_key_format: Option<String>,
    #[serde(default)]
    pub api_key_filename: Option<String>,
    /// Refuse authorization requests without PKCE (RFC 7636) for this client.
    #[serde(default, rename = "requirePKCE")]
    pub require_pkce: bool,
    /// A public client (RFC 8252): a program on the player's computer, which
    /// cannot keep a secret. It gets none, and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// The grants it may use: `authorization_code` (the default), `device_code` (RFC 8628).
    #[serde(default)]
    pub grants: Option<Vec<String>>,
}

/// Changes to a client. `null` clears a nullable field; an absent field is
/// left alone. Permissions cannot change: keys were granted against them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientEdit {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub redirect_uri: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub webhook_uri: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", alias = "apiKeyTemplate")]
    pub api_key_format: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub api_key_filename: Option<Option<String>>,
    #[serde(default, rename = "requirePKCE")]
    pub require_pkce: Option<bool>,
    pub grants: Option<Vec<String>>,
}

fn optional(value: Option<&str>, parse: impl Fn(&str) -> Result<String, Invalid>) -> Result<Option<String>, Invalid> {
    value.map(parse).transpose()
}

/// A client record from a draft, every field checked by the domain's rules.
fn validated_record(
    d: ClientDraft,
    client_id: String,
    author_id: Option<i64>,
    secret: &PlainSecret,
    created_at: i64,
) -> Result<Client, Invalid> {
    if d.public
        && let Some(uri) = &d.redirect_uri
    {
        client::check_public_redirect_uri(uri)?;
    }
    Ok(Client {
        client_id,
        secret_hash: secret.hash(),
        name: ClientName::parse(&d.name)?.as_str().to_owned(),
        author_id,
        redirect_uri: optional(d.redirect_uri.as_deref(), client::parse_redirect_uri)?,
        webhook_uri: optional(d.webhook_uri.as_deref(), |v| client::parse_http_url("webhookUri", v))?,
        permissions: client::check_requested_permissions(d.permissions)?,
        api_key_format: optional(d.api_key_format.as_deref(), client::parse_api_key_format)?,
        api_key_filename: optional(d.api_key_filename.as_deref(), client::parse_api_key_filename)?,
        require_pkce: d.require_pkce || d.public,
        public: d.public,
        grants: d.grants.as_deref().map_or(Ok(client::Grants::DEFAULT), client::Grants::parse_list)?,
        created_at,
    })
}

/// A client just registered, with its secrets in clear: shown once.
#[derive(Debug)]
pub struct CreatedClient {
    pub client: Client,
    /// `None` for a public client.
    pub secret: Option<PlainSecret>,
    /// Signs the events sent to its webhook.
    pub webhook_secret: SigningSecret,
}

/// A built-in client as the operator writes it in the configuration file:
/// a `CX…` id, an optional secret (without one, only the Client File Flow,
/// which needs no secret, can use it), and the fields of any client.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinClient {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub client: ClientDraft,
}

fn check_edit(e: &ClientEdit) -> Result<ClientChanges, Invalid> {
    let nullable = |v: &Option<Option<String>>, parse: &dyn Fn(&str) -> Result<String, Invalid>| {
        v.as_ref().map(|inner| optional(inner.as_deref(), parse)).transpose()
    };
    // Nothing to change: an empty object, or only nulls where null means
    // "leave alone" (name, requirePKCE). Nullable fields set to null are changes.
    let nothing = e.name.is_none()
        && e.redirect_uri.is_none()
        && e.webhook_uri.is_none()
        && e.api_key_format.is_none()
        && e.api_key_filename.is_none()
        && e.require_pkce.is_none()
        && e.grants.is_none();
    if nothing {
        return Err(Invalid::new("No changes to make."));
    }
    Ok(ClientChanges {
        name: e.name.as_deref().map(ClientName::parse).transpose()?.map(|n| n.as_str().to_owned()),
        redirect_uri: nullable(&e.redirect_uri, &client::parse_redirect_uri)?,
        webhook_uri: nullable(&e.webhook_uri, &|v| client::parse_http_url("webhookUri", v))?,
        api_key_format: nullable(&e.api_key_format, &client::parse_api_key_format)?,
        api_key_filename: nullable(&e.api_key_filename, &client::parse_api_key_filename)?,
        require_pkce: e.require_pkce,
        grants: e.grants.as_deref().map(client::Grants::parse_list).transpose()?,
    })
}

impl Service {
    /// Registers a client for the session's user. The secret is returned in
    /// clear here and never again.
    /// A public client gets no secret (`None`): the hash stored is of one
    /// nobody is given, so no secret authenticates it.
    ///
    /// Every new client also gets its webhook signing secret, returned here
    /// once, so that a webhook can be set now or later.
    pub async fn create_client(&self, caller: &Caller, d: ClientDraft) -> ServiceResult<CreatedClient> {
        let (user, _) = caller.session_user()?;
        if self.settings.accounts.require_verified_email && !self.store.email_verified(user.id).await? {
            return Err(ServiceError::Forbidden(crate::service::recovery::VERIFY_FIRST.into()));
        }
        let secret = PlainSecret::generate(SecretKind::ClientSecret);
        let record = validated_record(d, random_id("CI"), Some(user.id), &secret, self.now_ms())?;
        self.check_name_is_not_the_sites(&record.name).await?;
        self.check_webhook_destination(record.webhook_uri.as_deref()).await?;
        let cap = (!user.is_admin).then_some(self.settings.client_cap);
        let webhook_secret = SigningSecret::generate();
        if !self.store.insert_client_capped(&record, cap, Some(&webhook_secret)).await? {
            return Err(ServiceError::Invalid(format!(
                "you already own the maximum of {} clients; delete one first",
                self.settings.client_cap
            )));
        }
        self.record(Some(user.id), "client created", actor::USER, Some(&record.client_id), None).await;
        let secret = (!record.public).then_some(secret);
        crate::telemetry::count("tachi_clients_total", "created");
        Ok(CreatedClient { client: record, secret, webhook_secret })
    }

    /// A webhook URL must not lead the server's requests to a private
    /// address (see `crate::webhook`): checked when it is set, and again at
    /// every delivery.
    async fn check_webhook_destination(&self, uri: Option<&str>) -> ServiceResult<()> {
        match uri {
            Some(uri) => self.webhook_sender.check_destination(uri).await.map_err(|e| Invalid::new(e).into()),
            None => Ok(()),
        }
    }

    /// Creates or updates the operator's built-in clients (at start-up).
    pub async fn sync_builtin_clients(&self, clients: Vec<BuiltinClient>) -> ServiceResult<usize> {
        let n = clients.len();
        for b in clients {
            let id_ok = b.client_id.starts_with("CX")
                && (3..=64).contains(&b.client_id.len())
                && b.client_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !id_ok {
                return Err(ServiceError::Invalid(format!(
                    "built-in client id '{}' must start with CX and be 3 to 64 letters, digits, '_' or '-'",
                    b.client_id
                )));
            }
            let secret = match &b.client_secret {
                Some(s) if s.len() >= 16 => PlainSecret::from_presented(s.as_str()),
                Some(_) => {
                    return Err(ServiceError::Invalid(format!(
                        "the clientSecret of built-in client {} must be at least 16 characters",
                        b.client_id
                    )));
                }
                None => PlainSecret::generate(SecretKind::ClientSecret),
            };
            let record = validated_record(b.client, b.client_id.clone(), None, &secret, self.now_ms())
                .map_err(|e| ServiceError::Invalid(format!("built-in client {}: {e}", b.client_id)))?;
            self.store.upsert_builtin_client(&record).await?;
        }
        Ok(n)
    }

    /// A user's client may not pass for the operator's: its name must not
    /// look like the site's or a built-in client's (consent pages also label
    /// which clients are the site's own).
    async fn check_name_is_not_the_sites(&self, name: &str) -> ServiceResult<()> {
        let name = ClientName::parse(name)?;
        let site = &self.settings.site_name;
        if name.looks_like(site) {
            return Err(Invalid::new(format!("name must not pass for {site} itself")).into());
        }
        for builtin in self.store.builtin_client_names().await? {
            if name.looks_like(&builtin) {
                return Err(Invalid::new(format!("name must not pass for {site}'s own client '{builtin}'")).into());
            }
        }
        Ok(())
    }

    /// Who made a client, as the consent screens name them.
    pub async fn client_author_name(&self, client: &Client) -> ServiceResult<String> {
        let Some(author) = client.author_id else {
            return Ok(self.settings.site_name.clone());
        };
        Ok(self.store.username(author).await?.unwrap_or_else(|| "(deleted user)".to_owned()))
    }

    pub async fn my_clients(&self, caller: &Caller) -> ServiceResult<Vec<Client>> {
        let (user, _) = caller.session_user()?;
        Ok(self.store.clients_by_author(user.id).await?)
    }

    /// The client of this id, if there is one. (Pages that a link with an
    /// unknown id leads to say [`UNKNOWN_CLIENT`] instead of the API's text.)
    pub async fn client(&self, client_id: &str) -> ServiceResult<Client> {
        if !crate::domain::secret::is_well_formed_id(client_id) {
            return Err(ServiceError::NotFound("no client has that id".into()));
        }
        self.store
            .client_by_id(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no client has the id '{client_id}'")))
    }

    /// The client, if the session's user owns it (or is an admin).
    /// Checked in the original server's order: the client exists (404), then
    /// the session (401), then the ownership (403).
    pub(super) async fn owned_client(&self, caller: &Caller, client_id: &str) -> ServiceResult<Client> {
        let client = self.client(client_id).await?;
        let (user, _) = caller.session_user()?;
        if client.author_id.is_none() {
            return Err(ServiceError::Forbidden(
                "built-in clients are defined in the server's configuration and cannot be changed here".into(),
            ));
        }
        if client.author_id != Some(user.id) {
            return Err(ServiceError::Forbidden("only the client's author can do this".into()));
        }
        Ok(client)
    }

    pub async fn edit_client(&self, caller: &Caller, client_id: &str, edit: ClientEdit) -> ServiceResult<Client> {
        let client = self.owned_client(caller, client_id).await?;
        let changes = check_edit(&edit)?;
        if client.public
            && let Some(Some(uri)) = &changes.redirect_uri
        {
            client::check_public_redirect_uri(uri)?;
        }
        if let Some(name) = &changes.name {
            self.check_name_is_not_the_sites(name).await?;
        }
        if let Some(Some(uri)) = &changes.webhook_uri {
            self.check_webhook_destination(Some(uri)).await?;
        }
        self.store
            .update_client(client_id, &changes)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no client has the id '{client_id}'")))
    }

    /// A new secret; the old one stops working at once, issued keys stay valid.
    pub async fn reset_client_secret(&self, caller: &Caller, client_id: &str) -> ServiceResult<(Client, PlainSecret)> {
        let mut client = self.owned_client(caller, client_id).await?;
        if client.public {
            return Err(
                Invalid::new("a public client has no secret to reset: it authenticates with its id alone").into()
            );
        }
        let secret = PlainSecret::generate(SecretKind::ClientSecret);
        if !self.store.set_client_secret(client_id, &secret.hash()).await? {
            return Err(ServiceError::NotFound(format!("no client has the id '{client_id}'")));
        }
        client.secret_hash = secret.hash();
        self.record(client.author_id, "client secret reset", actor::USER, Some(client_id), None).await;
        Ok((client, secret))
    }

    /// Deletes the client and every key it issued.
    pub async fn delete_client(&self, caller: &Caller, client_id: &str) -> ServiceResult<Client> {
        let client = self.owned_client(caller, client_id).await?;
        let holders = self.store.keys_of_client(client_id, 10_000).await?;
        self.store.delete_client(client_id).await?;
        for (user_id, key_id) in &holders {
            self.record(Some(*user_id), "API key revoked", actor::CLIENT_DELETION, Some(client_id), Some(key_id)).await;
        }
        self.record(client.author_id, "client deleted", actor::USER, Some(client_id), None).await;
        crate::telemetry::count("tachi_clients_total", "deleted");
        Ok(client)
    }
}
