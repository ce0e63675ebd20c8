//! API errors: one JSON shape (`{"error":{"code","message","field"}}`) with the right
//! status for every refusal, and nothing from the inside (SQL, paths, secrets) in the
//! body: internal failures are logged with an id that the answer repeats.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tocsin_domain::approval::Refusal;
use tocsin_store::StoreError;

use crate::people::{AccessError, PeopleError, SessionError, SignInError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code.
    pub code: &'static str,
    /// What is wrong and what to do, for a person.
    pub message: String,
    /// The input to blame, when one is.
    pub field: Option<String>,
    /// Seconds to wait (429).
    pub retry_after: Option<i64>,
}

/// The body of an error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// The error itself.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Stable machine code.
    pub code: &'a str,
    /// For a person.
    pub message: &'a str,
    /// The input to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the input to blame.
    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// 400: a request that cannot be read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 401: no session.
    pub fn not_signed_in() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first")
    }

    /// 403: the role does not allow it.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 422: a value failed its rule.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).field(field)
    }

    /// 409: a workflow state conflict.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 500: logs `detail` with an incident id; the answer carries only the id.
    pub fn internal(detail: &dyn std::fmt::Display) -> ApiError {
        let incident = uuid_like();
        tracing::error!(incident = %incident, error = %detail, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the server could not do this (incident {incident}); try again"),
        )
    }
}

/// A short random id for an incident.
fn uuid_like() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(message) if message.ends_with("not found") => {
                ApiError::not_found(message)
            }
            StoreError::Conflict(message) => ApiError::conflict(message),
            StoreError::NotFound(what) => ApiError::not_found(format!("no {what}")),
            other => ApiError::internal(&other),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r.code {
            "reauthenticate" => {
                ApiError::new(StatusCode::FORBIDDEN, "reauthentication_needed", r.message)
            }
            "role" | "not_drafter" => ApiError::new(StatusCode::FORBIDDEN, r.code, r.message),
            code => ApiError::new(StatusCode::CONFLICT, code, r.message),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> ApiError {
        match e {
            AccessError::Forbidden { .. } => ApiError::forbidden(e.to_string()),
            AccessError::ReauthenticationNeeded => ApiError::new(
                StatusCode::FORBIDDEN,
                "reauthentication_needed",
                e.to_string(),
            ),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> ApiError {
        match e {
            SessionError::Unknown => ApiError::not_signed_in(),
            SessionError::Expired(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "session_ended", e.to_string())
            }
            SessionError::Store(e) => ApiError::internal(&e),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> ApiError {
        match e {
            SignInError::WrongCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "wrong_credentials", e.to_string())
            }
            SignInError::Throttled { retry_after_secs } => {
                let mut err =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string());
                err.retry_after = Some(retry_after_secs);
                err
            }
            SignInError::SessionEnded => {
                ApiError::new(StatusCode::UNAUTHORIZED, "session_ended", e.to_string())
            }
            SignInError::Unavailable(inner) => ApiError::internal(&inner),
        }
    }
}

impl From<PeopleError> for ApiError {
    fn from(e: PeopleError) -> ApiError {
        match e {
            PeopleError::Access(a) => a.into(),
            PeopleError::Password(p) => ApiError::invalid("password", p.to_string()),
            PeopleError::BadName => ApiError::invalid("name", e.to_string()),
            PeopleError::NoUser(_) => ApiError::not_found(e.to_string()),
            PeopleError::NameTaken(_) => ApiError::conflict(e.to_string()).field("name"),
            PeopleError::NotEnrolled(_) | PeopleError::WrongCode => {
                ApiError::invalid("code", e.to_string())
            }
            PeopleError::StoredRole(_) => ApiError::internal(&e),
            PeopleError::Store(StoreError::Conflict(m)) => ApiError::conflict(m),
            other => ApiError::internal(&other),
        }
    }
}

/// Answers 404 for routes that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such page or API route")
}

/// Answers 405 for a known path with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// A JSON body extractor whose refusals are [`ApiError`]s naming what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    match rejection {
        // A wrong type or a missing field: 400 `bad_request`, as the API reference says
        // (422 `invalid` is for a value that fails its variable's rule, with a field).
        R::JsonDataError(e) => ApiError::bad_request(format!("the request body {}", e.body_text())),
        R::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("the request body is not JSON: {}", e.body_text()))
        }
        R::MissingJsonContentType(_) => {
            ApiError::bad_request("send the body as JSON (Content-Type: application/json)")
        }
        R::BytesRejection(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large",
        ),
        _ => ApiError::bad_request("the request body could not be read"),
    }
}

/// A path extractor whose refusals are [`ApiError`]s: `/api/drafts/seven` is a 400
/// `bad_request` in the JSON error shape, not axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// A query-string extractor whose refusals are [`ApiError`]s (`?limit=many` is a 400
/// `bad_request` naming the parameter).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
