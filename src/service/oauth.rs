//! The authorization-code flow: an authorization request shown on the
//! consent screen, the code the user's approval creates, and the exchange of
//! that code for an API key by the client that asked.
//!
//! The seeds' JSON routes and the standard RFC 6749 endpoints both call these
//! functions; only the shape of their answers differs.

pub use crate::domain::RequestId;
use crate::domain::client;
use crate::domain::exchange::Refusal;
use crate::domain::secret::is_well_formed_id;
use crate::domain::{ApiKey, Client, NewAuthCode, PendingRequest};
use crate::domain::{Invalid, PermissionSet, PlainSecret, SecretHash, SecretKind, api_key, pkce};
use crate::storage::{Redemption, RedemptionAttempt};

use super::keys::client_key_identifier;
use super::limits::LimitKey;
use super::{Caller, Service, ServiceError, ServiceResult};

/// Parameters of an authorization request, from `/oauth/authorize` (RFC
/// names) or the seeds' `/oauth/request-auth` (`clientID`, `context`).
#[derive(Debug, Default, Clone)]
pub struct AuthorizationParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub context: Option<String>,
    /// From `/oauth/authorize` rather than the seeds' `/oauth/request-auth`.
    pub standard: bool,
}

/// A checked authorization request: what the consent screen shows.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub client: Client,
    pub author_name: String,
    pub request: PendingRequest,
}

/// Why an authorization request cannot be shown.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or its redirection endpoint cannot be trusted: the user is
    /// told on our own page and never sent anywhere (RFC 6749 §4.1.2.1).
    NotRedirectable(String),
    /// The client and redirect are valid but the request is not: the error
    /// goes back to the client's redirect URI.
    Redirectable {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
    Service(ServiceError),
}

impl From<ServiceError> for AuthorizeError {
    fn from(e: ServiceError) -> Self {
        AuthorizeError::Service(e)
    }
}

/// A code just created: its clear value goes to the client via the browser.
#[derive(Debug)]
pub struct IssuedCode {
    pub code: PlainSecret,
    pub user_id: i64,
    pub created_on: i64,
    pub request: PendingRequest,
}

/// A token request, whichever endpoint and encoding it came through.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    /// Whether `redirect_uri` must be present (the seeds' endpoint requires it).
    pub redirect_uri_required: bool,
}

/// Client credentials as presented (Basic header or body). A public client
/// presents its id alone.
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Option<String>,
}

#[derive(Debug)]
pub enum ExchangeError {
    Missing(&'static str),
    UnsupportedGrantType,
    UnknownClient,
    WrongSecret,
    /// A confidential client sent no secret.
    SecretMissing,
    RateLimited(u64),
    RedirectMismatch,
    /// Unknown, expired, used, or another client's code.
    InvalidCode,
    /// The code was already used: the key issued from it is now revoked.
    CodeReplayed,
    /// The PKCE verifier is missing, malformed or wrong (the code is burnt).
    PkceFailed(&'static str),
    Service(ServiceError),
}

impl From<ServiceError> for ExchangeError {
    fn from(e: ServiceError) -> Self {
        ExchangeError::Service(e)
    }
}

impl From<crate::storage::StoreError> for ExchangeError {
    fn from(e: crate::storage::StoreError) -> Self {
        ExchangeError::Service(e.into())
    }
}

/// A key issued by the exchange.
#[derive(Debug)]
pub struct ExchangedKey {
    pub key: ApiKey,
    pub token: PlainSecret,
    pub client: Client,
}

const MAX_PARAM_LEN: usize = 2000;

fn bounded(name: &str, v: Option<String>) -> Result<Option<String>, Invalid> {
    match v {
        Some(s) if s.len() > MAX_PARAM_LEN => {
            Err(Invalid::new(format!("{name} is longer than {MAX_PARAM_LEN} characters")))
        }
        Some(s) if s.is_empty() => Ok(None),
        // Sent back in a redirect and stored as text: PostgreSQL refuses NUL.
        Some(s) if s.chars().any(char::is_control) => {
            Err(Invalid::new(format!("{name} must not contain control characters")))
        }
        v => Ok(v),
    }
}

impl Service {
    /// Checks an authorization request. Client and redirect problems come
    /// first and are never redirected; the rest go back to the client.
    pub async fn check_authorization(&self, p: AuthorizationParams) -> Result<ConsentRequest, AuthorizeError> {
        let not_redirectable = |m: &str| AuthorizeError::NotRedirectable(m.to_owned());
        let client_id = p.client_id.filter(|c| !c.is_empty()).ok_or_else(|| {
            not_redirectable("The link you followed does not name an application (clientID is missing).")
        })?;
        let client = match self.client(&client_id).await {
            Ok(c) => c,
            Err(ServiceError::NotFound(_)) => {
                return Err(not_redirectable(super::clients::UNKNOWN_CLIENT));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(registered) = client.redirect_uri.clone() else {
            return Err(not_redirectable(
                "This application has no redirect URI, so it cannot use this sign-in flow. Its author must set one.",
            ));
        };
        // Exact string comparison (RFC 9700 §4.1.3): no prefix or pattern
        // matching; only a public client's loopback port may differ (RFC 8252 §7.3).
        if p.redirect_uri
            .as_deref()
            .is_some_and(|given| !client::redirect_uri_matches(&registered, given, client.public))
        {
            return Err(not_redirectable(
                "The redirect URI in the link is not the one this application registered, so you will not be sent there.",
            ));
        }
        // Where the browser goes back to: the registered URI, or the port a
        // public client's program listens on.
        let registered = p.redirect_uri.clone().unwrap_or(registered);
        let state = bounded("state", p.state).map_err(|e| not_redirectable(&e.0))?;
        let redirect = |error: &'static str, description: String| AuthorizeError::Redirectable {
            redirect_uri: registered.clone(),
            state: state.clone(),
            error,
            description,
        };
        if !client.grants.allows(client::Grants::AUTHORIZATION_CODE) {
            return Err(redirect(
                "unauthorized_client",
                "this client does not allow the authorization code grant (its grants are set by its author)".into(),
            ));
        }
        let context = bounded("context", p.context).map_err(|e| redirect("invalid_request", e.0))?;
        let permissions = match p.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => client.permissions,
            Some(scope) => {
                let asked = PermissionSet::parse_scope(scope).map_err(|e| redirect("invalid_scope", e.to_string()))?;
                if !asked.is_subset_of(client.permissions) {
                    return Err(redirect(
                        "invalid_scope",
                        format!("scope may only contain this client's permissions: {}", client.permissions.to_scope()),
                    ));
                }
                if asked.is_empty() {
                    return Err(redirect("invalid_scope", "scope names no permission".into()));
                }
                asked
            }
        };
        let code_challenge = match p.code_challenge.filter(|c| !c.is_empty()) {
            Some(ch) => {
                pkce::check_challenge(&ch, p.code_challenge_method.as_deref())
                    .map_err(|e| redirect("invalid_request", e.0))?;
                Some(ch)
            }
            None if client.require_pkce || client.public => {
                return Err(redirect(
                    "invalid_request",
                    "this client requires PKCE: send code_challenge (S256)".into(),
                ));
            }
            None => None,
        };
        let author_name = self.client_author_name(&client).await?;
        Ok(ConsentRequest {
            author_name,
            request: PendingRequest {
                // Set when a session is shown it (`show_consent`).
                id: RequestId::from_bytes(&[0; 32]).expect("32 bytes"),
                client_id: client.client_id.clone(),
                redirect_uri: registered,
                permissions,
                state,
                code_challenge,
                context,
                standard: p.standard,
                created_at: self.now_ms(),
            },
            client,
        })
    }

    /// Remembers, in the user's session, the request the consent screen is
    /// showing, so that approving it (create-code) knows what it approves.
    /// Returns the id the page's form carries. A later request for the same
    /// client is another pending request; it never replaces this one.
    pub async fn show_consent(&self, caller: &Caller, consent: &mut ConsentRequest) -> ServiceResult<RequestId> {
        let (_, session) = caller.session_user()?;
        consent.request.id = request_id(session, &consent.request);
        self.store.put_pending_request(session, &consent.request).await?;
        Ok(consent.request.id)
    }

    /// The seeds' create-code: approves one of the session's pending
    /// requests and creates its code. The consent page names the request
    /// it showed; a caller that names none (Tachi's own web client posts no
    /// body) approves the only one pending (for `clientID`, if given), and
    /// is refused when several are: which one the user saw is then unknown.
    pub async fn create_code(&self, caller: &Caller, which: Approve<'_>) -> ServiceResult<IssuedCode> {
        let (user, session) = caller.session_user()?;
        let newer_than = self.now_ms() - self.code_lifetime_ms();
        let id = self.pending_request(session, which, newer_than).await?;
        let code = PlainSecret::generate(SecretKind::AuthCode);
        let created_on = self.now_ms();
        let expires_at = created_on + self.code_lifetime_ms();
        let new_code = NewAuthCode { code_hash: code.hash(), user_id: user.id, created_at: created_on, expires_at };
        let Some(request) = self.store.approve_pending_request(session, id, newer_than, new_code).await? else {
            return Err(ServiceError::Invalid(
                "there is no pending authorization request by this id in this session (it was answered, or \
                 has expired): open the application's sign-in link again"
                    .into(),
            ));
        };
        self.record(Some(user.id), "app authorised", super::audit::actor::USER, Some(&request.client_id), None).await;
        Ok(IssuedCode { code, user_id: user.id, created_on, request })
    }

    async fn pending_request(
        &self,
        session: &SecretHash,
        which: Approve<'_>,
        newer_than: i64,
    ) -> ServiceResult<RequestId> {
        let client_id = match which {
            Approve::Shown(id) => return Ok(id),
            Approve::Only { client_id } => client_id,
        };
        let for_client = |id: &str| format!(" for client '{id}'");
        let named = client_id.map(for_client).unwrap_or_default();
        if client_id.is_some_and(|id| !is_well_formed_id(id)) {
            return Err(ServiceError::Invalid(format!(
                "there is no pending authorization request{named} in this session"
            )));
        }
        let mut pending = self.store.pending_request_ids(session, client_id, newer_than, 2).await?;
        match pending.len() {
            1 => Ok(pending.remove(0)),
            0 => Err(ServiceError::Invalid(format!(
                "there is no pending authorization request{named} in this session: this route approves the request \
                 shown by the consent page (/oauth/request-auth?clientID=...) and is not meant to be called by external code"
            ))),
            _ => Err(ServiceError::Invalid(format!(
                "several authorization requests{named} are pending in this session: {}the approval must come \
                 from the consent page that shows the one to approve",
                if client_id.is_none() { "name its client with clientID, or " } else { "" }
            ))),
        }
    }

    /// The user said no: the pending request is forgotten, no code exists.
    pub async fn decline(&self, caller: &Caller, which: Approve<'_>) -> ServiceResult<Option<PendingRequest>> {
        let (_, session) = caller.session_user()?;
        let newer_than = self.now_ms() - self.code_lifetime_ms();
        let id = match self.pending_request(session, which, newer_than).await {
            Ok(id) => id,
            // Nothing to decline: nothing is sent anywhere either.
            Err(ServiceError::Invalid(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self.store.drop_pending_request(session, id).await?)
    }

    /// Authenticates a client by id and secret. Unknown clients are compared
    /// against a dummy hash so both failures cost the same.
    ///
    /// A right secret is never refused: client ids are public, so a limit
    /// per client would let anyone lock an integration out, and a 160-bit
    /// secret cannot be guessed anyway. Failures are limited per address,
    /// counted in the same step as the check.
    pub async fn authenticate_client(&self, creds: &ClientCredentials, ip: &str) -> Result<Client, ExchangeError> {
        let client =
            if is_well_formed_id(&creds.client_id) { self.store.client_by_id(&creds.client_id).await? } else { None };
        let stored = client.as_ref().map_or(SecretHash::dummy(), |c| c.secret_hash);
        let presented = PlainSecret::from_presented(creds.client_secret.as_deref().unwrap_or_default());
        let secret_ok = stored.matches(&presented) && creds.client_secret.is_some();
        match client {
            // A public client has no secret: its id alone, never with a secret.
            Some(c) if c.public && creds.client_secret.is_none() => Ok(c),
            Some(c) if !c.public && secret_ok => Ok(c),
            found => {
                let key = LimitKey::of(&["client auth", ip]);
                self.limits.client_auth_ip.acquire(key, self.clock.instant()).map_err(ExchangeError::RateLimited)?;
                Err(match found {
                    None => ExchangeError::UnknownClient,
                    Some(c) if !c.public && creds.client_secret.is_none() => ExchangeError::SecretMissing,
                    Some(_) => ExchangeError::WrongSecret,
                })
            }
        }
    }

    /// Exchanges a code for an API key, for the client that was approved.
    /// Checks run in the seeds' order: grant type, client, secret, redirect
    /// URI, code.
    pub async fn exchange_code(
        &self,
        creds: Option<ClientCredentials>,
        req: TokenRequest,
        ip: &str,
    ) -> Result<ExchangedKey, ExchangeError> {
        let result = self.try_exchange_code(creds, req, ip).await;
        crate::telemetry::count(
            "tachi_token_exchanges_total",
            match &result {
                Ok(_) => "issued",
                Err(ExchangeError::Missing(_)) => "missing_parameter",
                Err(ExchangeError::UnsupportedGrantType) => "unsupported_grant_type",
                Err(ExchangeError::UnknownClient) => "unknown_client",
                Err(ExchangeError::WrongSecret) => "wrong_secret",
                Err(ExchangeError::SecretMissing) => "secret_missing",
                Err(ExchangeError::RateLimited(_)) => "rate_limited",
                Err(ExchangeError::RedirectMismatch) => "redirect_mismatch",
                Err(ExchangeError::InvalidCode) => "invalid_code",
                Err(ExchangeError::CodeReplayed) => "replay",
                Err(ExchangeError::PkceFailed(_)) => "pkce_failed",
                Err(ExchangeError::Service(_)) => "error",
            },
        );
        result
    }

    async fn try_exchange_code(
        &self,
        creds: Option<ClientCredentials>,
        req: TokenRequest,
        ip: &str,
    ) -> Result<ExchangedKey, ExchangeError> {
        match req.grant_type.as_deref() {
            Some("authorization_code") => {}
            None | Some("") => return Err(ExchangeError::Missing("grant_type")),
            Some(_) => return Err(ExchangeError::UnsupportedGrantType),
        }
        let creds = creds.ok_or(ExchangeError::Missing("client_id"))?;
        let client = self.authenticate_client(&creds, ip).await?;
        let code = req.code.filter(|c| !c.is_empty()).ok_or(ExchangeError::Missing("code"))?;
        match (&req.redirect_uri, &client.redirect_uri) {
            (None, _) if req.redirect_uri_required => {
                return Err(ExchangeError::Missing("redirect_uri"));
            }
            (Some(given), Some(registered)) if client::redirect_uri_matches(registered, given, client.public) => {}
            (Some(_), _) => return Err(ExchangeError::RedirectMismatch),
            (None, _) => {}
        }
        if code.len() > 256 {
            return Err(ExchangeError::InvalidCode);
        }
        // The key is made before the code is claimed: the claim records its
        // id on the code, in the same statement that uses the code up.
        let (key_id, token) = api_key::generate();
        let attempt = RedemptionAttempt {
            code: PlainSecret::from_presented(code).hash(),
            client_id: client.client_id.clone(),
            code_verifier: req.code_verifier,
            redirect_uri: req.redirect_uri,
            key_id,
            token_hash: token.hash(),
            identifier: client_key_identifier(&client.name),
            now: self.now_ms(),
        };
        match self.store.redeem_code(attempt).await? {
            Redemption::Issued(mut key) => {
                key.client_name = Some(client.name.clone());
                Ok(ExchangedKey { key, token, client })
            }
            Redemption::Refused(Refusal::Pkce(failure)) => Err(ExchangeError::PkceFailed(failure)),
            Redemption::Refused(Refusal::RedirectUri) => Err(ExchangeError::InvalidCode),
            Redemption::Replayed { user_id, key_id } => {
                // What the code had issued was revoked: the user's log says why.
                let actor = super::audit::actor::REPLAYED_CODE;
                self.record(Some(user_id), "API key revoked", actor, Some(&client.client_id), key_id.as_deref()).await;
                Err(ExchangeError::CodeReplayed)
            }
            Redemption::Invalid => Err(ExchangeError::InvalidCode),
        }
    }
}

/// Which pending request an approval is for.
#[derive(Debug, Clone, Copy)]
pub enum Approve<'a> {
    /// The one a consent page showed (its form carries the id).
    Shown(RequestId),
    /// The only one pending in the session (for this client, if named).
    Only { client_id: Option<&'a str> },
}

/// A pending request's id: a hash of the session and everything the page
/// shows, so the same request shown twice is one row, and a request that
/// differs in anything (scope, state, PKCE challenge) is another.
fn request_id(session: &SecretHash, r: &PendingRequest) -> RequestId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(session.as_bytes());
    part(r.client_id.as_bytes());
    part(r.redirect_uri.as_bytes());
    part(&r.permissions.bits().to_le_bytes());
    for optional in [&r.state, &r.code_challenge, &r.context] {
        match optional {
            Some(v) => part(v.as_bytes()),
            None => part(&[0xff]),
        }
    }
    part(&[u8::from(r.standard)]);
    RequestId::from_bytes(&h.finalize()).expect("SHA-256 is 32 bytes")
}
