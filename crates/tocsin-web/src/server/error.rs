//! API errors: one JSON shape (`{"error":{"code","message","field"}}`) with the right
//! status for every refusal, and nothing from the inside (SQL, paths, secrets) in the
//! body: internal failures are logged with an id that the answer repeats.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tocsin_app::{AppError, ErrorKind};

/// An error answer: the application's refusal ([`AppError`]) with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub AppError);

impl std::ops::Deref for ApiError {
    type Target = AppError;

    fn deref(&self) -> &AppError {
        &self.0
    }
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

/// The HTTP status of a kind of refusal.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotSignedIn => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// An error of a kind, with a code and message.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError(AppError::new(kind, code, message))
    }

    /// Its HTTP status.
    pub fn status(&self) -> StatusCode {
        status_of(self.0.kind)
    }

    /// Names the input to blame.
    pub fn field(self, field: impl Into<String>) -> ApiError {
        ApiError(self.0.field(field))
    }

    /// 400: a request that cannot be read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError(AppError::bad_request(message))
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError(AppError::not_found(what))
    }

    /// 401: no session.
    pub fn not_signed_in() -> ApiError {
        ApiError(AppError::not_signed_in())
    }

    /// 403: the role does not allow it.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError(AppError::forbidden(message))
    }

    /// 422: a value failed its rule.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError(AppError::invalid(field, message))
    }

    /// 409: a workflow state conflict.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError(AppError::conflict(message))
    }

    /// 500: logs `detail` with an incident id; the answer carries only the id.
    pub fn internal(detail: &dyn std::fmt::Display) -> ApiError {
        ApiError(AppError::internal(detail))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.0.code,
                message: &self.0.message,
                field: self.0.field.as_deref(),
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.0.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

/// Every refusal the store, the people layer, the account vault and the approval rules
/// give is an answer, as the application classifies it.
macro_rules! answer_from {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for ApiError {
            fn from(e: $t) -> ApiError {
                ApiError(AppError::from(e))
            }
        })*
    };
}

answer_from!(
    tocsin_store::StoreError,
    tocsin_domain::approval::Refusal,
    tocsin_app::people::AccessError,
    tocsin_app::people::SessionError,
    tocsin_app::people::SignInError,
    tocsin_app::people::PeopleError,
    tocsin_app::accounts::AccountError,
);

/// Answers 404 for routes that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such page or API route")
}

/// Answers 405 for a known path with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
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
            ErrorKind::TooLarge,
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
