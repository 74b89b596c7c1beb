//! The seeds' OAuth2 routes: `POST /api/v1/oauth/create-code` (approve the
//! pending request of the consent screen) and `POST /api/v1/oauth/token`
//! (exchange the code for an API key document).

use axum::Form;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::views::IssuedKeyDocument;
use crate::http::AppState;
use crate::http::envelope::{ApiError, ApiOk, ApiResult};
use crate::http::extract::{ApiJson, Auth, ClientIp, OptionalJson};
use crate::service::oauth::{Approve, ClientCredentials, ExchangeError, TokenRequest};

/// A body in JSON or `application/x-www-form-urlencoded`, as the token
/// endpoint takes either.
pub struct JsonOrForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let Form(v) = Form::<T>::from_request(req, state).await?;
            Ok(JsonOrForm(v))
        } else {
            let ApiJson(v) = ApiJson::<T>::from_request(req, state).await?;
            Ok(JsonOrForm(v))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateCodeBody {
    #[serde(rename = "clientID")]
    client_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeDocument {
    code: String,
    #[serde(rename = "userID")]
    user_id: i64,
    created_on: i64,
}

/// The body is optional: `{}` or none at all approves the only pending request.
pub async fn create_code(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OptionalJson(body): OptionalJson<CreateCodeBody>,
) -> ApiResult<CodeDocument> {
    let which = Approve::Only { client_id: body.client_id.as_deref() };
    let issued = state.svc.create_code(&caller, which).await?;
    Ok(ApiOk(
        "Created an authorization code. It is valid once, for the client you approved, for a limited time.".into(),
        CodeDocument { code: issued.code.expose().to_owned(), user_id: issued.user_id, created_on: issued.created_on },
    ))
}

/// No `Debug`: it holds the client secret and the code.
#[derive(Deserialize)]
pub struct TokenBody {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    code: Option<String>,
    code_verifier: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonOrForm(b): JsonOrForm<TokenBody>,
) -> ApiResult<IssuedKeyDocument> {
    let creds = match (b.client_id, b.client_secret) {
        (Some(client_id), client_secret) => Some(ClientCredentials { client_id, client_secret }),
        (None, _) => None,
    };
    let req = TokenRequest {
        grant_type: b.grant_type,
        code: b.code,
        redirect_uri: b.redirect_uri,
        code_verifier: b.code_verifier,
        redirect_uri_required: true,
    };
    let issued = state.svc.exchange_code(creds, req, &ip).await.map_err(seeds_error)?;
    let description = format!("Issued an API key for {}.", issued.client.name);
    Ok(ApiOk(description, IssuedKeyDocument { key: issued.key, token: issued.token }))
}

/// The original server's status codes for the exchange (see the spec).
fn seeds_error(e: ExchangeError) -> ApiError {
    let (status, description) = match e {
        ExchangeError::Missing(field) => (StatusCode::BAD_REQUEST, format!("{field} is missing")),
        ExchangeError::UnsupportedGrantType => {
            (StatusCode::BAD_REQUEST, "grant_type must be authorization_code, the only grant supported".into())
        }
        ExchangeError::UnknownClient => (StatusCode::NOT_FOUND, "no client has this client_id".into()),
        ExchangeError::WrongSecret => (StatusCode::FORBIDDEN, "client_secret is not this client's secret".into()),
        ExchangeError::SecretMissing => (StatusCode::BAD_REQUEST, "client_secret is missing".into()),
        ExchangeError::RedirectMismatch => {
            (StatusCode::BAD_REQUEST, "redirect_uri is not identical to the client's registered redirect URI".into())
        }
        ExchangeError::InvalidCode | ExchangeError::CodeReplayed => (
            StatusCode::NOT_FOUND,
            "this code does not exist, has expired, was already used, or was issued to another client".into(),
        ),
        ExchangeError::PkceFailed(why) => (StatusCode::BAD_REQUEST, why.into()),
        ExchangeError::RateLimited(secs) => {
            let mut err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed client authentications; try again in {secs} seconds"),
            );
            err.retry_after = Some(secs);
            return err;
        }
        ExchangeError::Service(e) => return e.into(),
    };
    ApiError::new(status, description)
}
