//! Errors as `application/problem+json` (RFC 9457), each with a stable
//! machine-readable `code` and, where one field is at fault, its name.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::lint::{TextWarning, WHERE_IDENTITIES_BELONG};
use crate::domain::observation::FieldError;
use crate::service::ServiceError;

/// A problem response. Serialised with a `type` URI derived from `code`
/// (`urn:safetymap:problem:<code>`).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Short summary, in English; clients translate by `code`.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// Stable code for machines.
    pub code: &'static str,
    /// The first field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What went wrong in this case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every field at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Free-text warnings to confirm (boxed: rare, and keeps errors small).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Box<Vec<TextWarning>>>,
    #[serde(skip)]
    www_authenticate: bool,
    /// Seconds to wait before trying again (`Retry-After`) when throttled;
    /// 0: none. (A plain u32 keeps `Problem` small: it is every handler's
    /// error type.)
    #[serde(skip)]
    retry_after: u32,
}

impl Problem {
    /// A problem with a status, code and title.
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Problem {
            title,
            status: status.as_u16(),
            code,
            field: None,
            detail: None,
            errors: Vec::new(),
            warnings: None,
            www_authenticate: false,
            retry_after: 0,
        }
    }

    /// Asks the client to wait `seconds` before trying again.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = seconds.max(1);
        self
    }

    /// Adds the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 422 for invalid fields: `code` and `field` come from the first error.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let first = errors.first().cloned();
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            first.as_ref().map_or("invalid-input", |e| e.code),
            "The request has invalid fields",
        );
        if let Some(first) = first {
            p.field = Some(first.field);
            p.detail = Some(first.message);
        }
        p.errors = errors;
        p
    }

    /// 400 for a bad query parameter.
    pub fn bad_parameter(code: &'static str, name: &str, detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            code,
            "A query parameter is invalid",
        )
        .field(name)
        .detail(detail)
    }

    /// 400 for a query parameter the endpoint does not take.
    pub fn unknown_parameter(name: &str) -> Self {
        Problem::bad_parameter(
            "unknown-parameter",
            name,
            format!("`{name}` is not a parameter of this endpoint"),
        )
    }

    /// 401, asking for a bearer token.
    pub fn unauthorized(code: &'static str, detail: &str) -> Self {
        let mut p =
            Problem::new(StatusCode::UNAUTHORIZED, code, "Authentication required").detail(detail);
        p.www_authenticate = true;
        p
    }

    /// 404.
    pub fn not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    /// 503: the store cannot be reached just now (an outage or a restart
    /// of the database); nothing was written.
    pub fn store_unavailable() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "The store cannot be reached just now; nothing was changed. Try again shortly",
        )
        .retry_after(2)
    }

    /// 500; the cause is logged, never shown.
    pub fn internal() -> Self {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Something went wrong on the server; it has been logged",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        #[derive(Serialize)]
        struct Document<'a> {
            #[serde(rename = "type")]
            kind: String,
            /// The request it answers, as in its logs (RFC 9457 `instance`).
            #[serde(skip_serializing_if = "Option::is_none")]
            instance: Option<String>,
            #[serde(flatten)]
            problem: &'a Problem,
        }
        metrics::counter!(
            "safetymap_problems_total",
            "code" => self.code,
            "status" => status.as_str().to_owned(),
        )
        .increment(1);
        let body = serde_json::to_vec(&Document {
            kind: format!("urn:safetymap:problem:{}", self.code),
            instance: super::operations::RequestId::current()
                .map(|id| format!("urn:safetymap:request:{}", id.as_str())),
            problem: &self,
        })
        .unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.retry_after > 0 {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        }
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"safetymap\""),
            );
        }
        response
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(errors) => Problem::invalid(errors),
            ServiceError::NotFound => Problem::not_found(),
            ServiceError::Forbidden => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your role does not allow this",
            ),
            ServiceError::Withdrawn => Problem::new(
                StatusCode::CONFLICT,
                "withdrawn",
                "This observation has been withdrawn",
            ),
            ServiceError::Conflict => Problem::new(
                StatusCode::CONFLICT,
                "edit-conflict",
                "The observation changed while you were editing it; reload and try again",
            ),
            ServiceError::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "This Idempotency-Key was already used for a different request",
            )
            .field("Idempotency-Key"),
            ServiceError::PersonalIdentifiers(warnings) => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "personal-identifiers-suspected",
                    "The text looks like it identifies people",
                )
                .detail(format!(
                    "{} {} Resend with \"acknowledge_warnings\": true to save it as it is.",
                    WHERE_IDENTITIES_BELONG.en, WHERE_IDENTITIES_BELONG.cy
                ));
                p.field = warnings.first().map(|w| w.field.clone());
                p.warnings = Some(Box::new(warnings));
                p
            }
            ServiceError::PurposeRequired => Problem::new(
                StatusCode::BAD_REQUEST,
                "purpose-required",
                "State why you are opening this record",
            )
            .field("purpose")
            .detail("sensitive and restricted records open only with a stated purpose, which is kept in the audit trail"),
            ServiceError::Refused {
                code,
                title,
                field,
                detail,
            } => {
                let mut p = Problem::new(StatusCode::FORBIDDEN, code, title);
                p.field = field.map(str::to_owned);
                if !detail.is_empty() {
                    p.detail = Some(detail);
                }
                p
            }
            ServiceError::NotFrozen => Problem::new(
                StatusCode::CONFLICT,
                "not-frozen",
                "Follow-up compares before and after freezing: freeze the exercise first",
            ),
            ServiceError::NothingToChange => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "nothing-to-change",
                "The edit changes nothing",
            )
            .detail("send at least one field with a new value"),
            ServiceError::Unauthenticated { code, title, field } => {
                let mut p = Problem::unauthorized(code, title);
                p.field = field.map(str::to_owned);
                p
            }
            ServiceError::Throttled { retry_after } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "sign-in-throttled",
                "Too many failed sign-ins; wait a few minutes and try again",
            )
            .retry_after(retry_after),
            ServiceError::StateConflict { code, title } => {
                Problem::new(StatusCode::CONFLICT, code, title)
            }
            ServiceError::Busy => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The server is busy with other analyses or downloads; try again shortly",
            )
            .retry_after(5),
            ServiceError::TooCostly { parameter, detail } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too-costly",
                "This request would take more work than one request may",
            )
            .field(parameter)
            .detail(detail),
            ServiceError::OverBudget { retry_after } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over-budget",
                "You have asked for many reports or aggregate queries in a short time; try again later",
            )
            .detail("your agency's coordinators can see this in the audit log")
            .retry_after(retry_after),
            ServiceError::WriteTask => {
                tracing::error!("a write task failed");
                Problem::internal()
            }
            ServiceError::Store(crate::store::StoreError::Taken(what)) => Problem::new(
                StatusCode::CONFLICT,
                "already-exists",
                "That name is taken",
            )
            .field(if what == "username" { "username" } else { "code" })
            .detail(format!("that {what} is already in use")),
            ServiceError::Store(crate::store::StoreError::Frozen) => Problem::new(
                StatusCode::CONFLICT,
                "exercise-frozen",
                "The exercise is frozen: what the panel saw no longer changes",
            ),
            ServiceError::Store(crate::store::StoreError::InUse(by)) => Problem::new(
                StatusCode::CONFLICT,
                "in-use",
                "Still in use",
            )
            .detail(format!("still used by an {by}")),
            ServiceError::Store(crate::store::StoreError::UnknownAgency(code)) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-agency",
                "There is no such agency",
            )
            .field("agency")
            .detail(format!("register the agency {code} first")),
            ServiceError::Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "store unavailable");
                Problem::store_unavailable()
            }
            ServiceError::Store(e) => {
                // Store errors can quote SQL values; log them, never return them.
                tracing::error!(error = %e, "store failure");
                Problem::internal()
            }
        }
    }
}
