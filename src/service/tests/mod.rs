//! Use-case tests: the service on a real SQLite store in a temporary
//! directory, with a manual clock, so that expiry is a matter of moving the
//! clock on. No HTTP: what a caller sees through the surfaces is the
//! integration suite's (`tests/it/`).

mod clients_and_keys;
mod exchange;

use std::time::Duration;

use crate::domain::{Client, NewUser};
use crate::domain::{Clock, Permission, PermissionSet, PlainSecret, SecretKind};
use crate::service::clients::ClientDraft;
use crate::service::oauth::{
    Approve, AuthorizationParams, ClientCredentials, ExchangeError, ExchangedKey, TokenRequest,
};
use crate::service::{Caller, Service, ServiceError, Settings};
use crate::storage::Store;

pub const REDIRECT: &str = "https://integration.example/cb";
/// RFC 7636 appendix B's pair.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const IP: &str = "192.0.2.1";

/// A service on a fresh database, and the clock it reads.
pub struct Fixture {
    pub svc: Service,
    pub clock: Clock,
    _dir: tempfile::TempDir,
}

/// A user with a session.
pub struct Player {
    pub id: i64,
    pub caller: Caller,
    pub cookie: PlainSecret,
}

/// A registered client and its secret (`None` for a public client).
pub struct TestClient {
    pub record: Client,
    pub secret: Option<PlainSecret>,
}

impl TestClient {
    pub fn id(&self) -> &str {
        &self.record.client_id
    }

    fn credentials(&self) -> ClientCredentials {
        ClientCredentials {
            client_id: self.record.client_id.clone(),
            client_secret: self.secret.as_ref().map(|s| s.expose().to_owned()),
        }
    }
}

/// What a client sends with a code, besides its credentials.
#[derive(Default, Clone, Copy)]
pub struct Sent<'a> {
    pub verifier: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut Settings)) -> Fixture {
        let clock = Clock::fixed();
        let (dir, store) = Store::sqlite_for_tests_with(clock.clone()).await;
        let mut settings = Settings::default();
        configure(&mut settings);
        Fixture { svc: Service::new(store, settings), clock, _dir: dir }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A user, logged in. (Registration's password hashing is not what
    /// these tests are about: the account is written directly.)
    pub async fn user(&self, name: &str) -> Player {
        let email = format!("{name}@example.org");
        let new = NewUser {
            username: name,
            username_key: name,
            username_skeleton: name,
            email: &email,
            password_hash: "not a hash",
            created_at: self.svc.now_ms(),
        };
        let id = self.svc.store.insert_user(&new).await.unwrap();
        let user = self.svc.store.user_by_id(id).await.unwrap().unwrap();
        let session = self.svc.open_session(user).await.unwrap();
        let caller = self.caller(&session.cookie).await.expect("a fresh session is valid");
        Player { id, caller, cookie: session.cookie }
    }

    /// Who a session cookie is now (`None`: no valid session).
    pub async fn caller(&self, cookie: &PlainSecret) -> Option<Caller> {
        self.svc.session_caller(cookie.expose()).await.unwrap()
    }

    /// A confidential client of `author` with `permissions`, as `draft` changes it.
    pub async fn client_of(
        &self,
        author: &Player,
        permissions: &[Permission],
        draft: impl FnOnce(&mut ClientDraft),
    ) -> TestClient {
        let (record, secret) = self.create_client(author, permissions, draft).await.unwrap();
        TestClient { record, secret }
    }

    pub async fn create_client(
        &self,
        author: &Player,
        permissions: &[Permission],
        configure: impl FnOnce(&mut ClientDraft),
    ) -> Result<(Client, Option<PlainSecret>), ServiceError> {
        let mut draft = ClientDraft {
            name: format!("App {}", PlainSecret::generate(SecretKind::AuthCode).expose().get(..8).unwrap()),
            redirect_uri: Some(REDIRECT.into()),
            webhook_uri: None,
            permissions: permissions.iter().fold(PermissionSet::default(), |set, p| set.with(*p)),
            api_key_format: None,
            api_key_filename: None,
            require_pkce: false,
            public: false,
            grants: None,
        };
        configure(&mut draft);
        self.svc.create_client(&author.caller, draft).await.map(|created| (created.client, created.secret))
    }

    /// The user approves the client on the consent page (with a PKCE
    /// challenge, if given): the code the browser carries back.
    pub async fn approve(&self, user: &Player, client: &TestClient, challenge: Option<&str>) -> String {
        let params = AuthorizationParams {
            client_id: Some(client.id().to_owned()),
            redirect_uri: Some(REDIRECT.into()),
            code_challenge: challenge.map(Into::into),
            code_challenge_method: challenge.map(|_| "S256".into()),
            ..AuthorizationParams::default()
        };
        let mut consent = self.svc.check_authorization(params).await.map_err(|_| "not authorizable").unwrap();
        let id = self.svc.show_consent(&user.caller, &mut consent).await.unwrap();
        let issued = self.svc.create_code(&user.caller, Approve::Shown(id)).await.unwrap();
        issued.code.expose().to_owned()
    }

    /// The client exchanges `code` at the token endpoint.
    pub async fn exchange(
        &self,
        client: &TestClient,
        code: &str,
        sent: Sent<'_>,
    ) -> Result<ExchangedKey, ExchangeError> {
        let request = TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(code.to_owned()),
            redirect_uri: sent.redirect_uri.map(Into::into),
            code_verifier: sent.verifier.map(Into::into),
            redirect_uri_required: false,
        };
        self.svc.exchange_code(Some(client.credentials()), request, IP).await
    }

    /// Who a bearer key authenticates (`Err`: refused).
    pub async fn bearer(&self, token: &PlainSecret) -> Result<Caller, ServiceError> {
        self.svc.authenticate(Some(&format!("Bearer {}", token.expose())), None).await
    }

    /// The user's security log, newest first: (event, actor).
    pub async fn log_of(&self, user: &Player) -> Vec<(String, String)> {
        let (events, _) = self.svc.security_log(&user.caller, user.id, None).await.unwrap();
        events.into_iter().map(|e| (e.event, e.actor)).collect()
    }
}
