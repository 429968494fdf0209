//! JSON request bodies: size-limited, typed, and every rejection a problem
//! naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// A JSON (or GeoJSON, or merge-patch) body parsed into a `serde_json::Value`.
#[derive(Debug)]
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !matches!(
            essence,
            "application/json" | "application/geo+json" | "application/merge-patch+json"
        ) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send the body as application/json",
            )
            .field("Content-Type"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "The request body is larger than this server accepts",
                )
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable-body",
                    "The body could not be read",
                )
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
            )
            .detail(e.to_string())
        })?;
        // One rule for text, whatever the request (see domain::text).
        if let Some(field) = crate::domain::text::first_forbidden(&value) {
            return Err(control_character(field));
        }
        Ok(JsonBody(value))
    }
}

/// Deserialises `value` into `T`, turning serde's complaint into a problem
/// that names the field (`grading.source`, `indicators[1]`, …).
pub fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde names a missing or unknown field inside backticks, with the
        // path pointing at the object that holds it.
        let named = message.split('`').nth(1).map(|name| join_path(&path, name));
        let (code, field) = if message.starts_with("missing field") {
            ("missing-field", named.unwrap_or(path))
        } else if message.starts_with("unknown field") {
            ("unknown-field", named.unwrap_or(path))
        } else {
            ("invalid-type", path)
        };
        Problem::invalid(vec![crate::domain::observation::FieldError::new(
            field, code, message,
        )])
    })
}

fn join_path(path: &str, name: &str) -> String {
    // For unknown fields serde_path_to_error's path already ends at the field.
    if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else if path.is_empty() || path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn control_character(field: String) -> Problem {
    Problem::invalid(vec![crate::domain::observation::FieldError::new(
        field,
        crate::domain::text::CODE,
        crate::domain::text::MESSAGE,
    )])
}

/// Middleware: a query string whose parameters (names or values, once
/// decoded) hold a control character is refused with 422, naming the
/// parameter, before any handler reads it — the same rule as for bodies.
pub async fn query_text(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(query) = request.uri().query() {
        let bad = form_urlencoded::parse(query.as_bytes()).find(|(name, value)| {
            crate::domain::text::has_forbidden(name) || crate::domain::text::has_forbidden(value)
        });
        if let Some((name, _)) = bad {
            return control_character(name.into_owned()).into_response();
        }
    }
    next.run(request).await
}
