//! The synchronous HTTP client the Plex and Jellyfin importers share: JSON GETs whose failures
//! name the provider, the URL and what failed, never the token (contract INGEST-011).

use std::time::Duration;

use serde_json::Value;

use crate::error::{AppError, AppResult};

/// How long one request may take before the source counts as unreachable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Percent-encodes a query component (everything but unreserved characters).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~,".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A JSON API at `base_url`, authenticated by a token header.
pub struct JsonApi {
    provider: &'static str,
    base_url: String,
    token_header: &'static str,
    token: String,
    agent: ureq::Agent,
}

impl JsonApi {
    /// A client for `provider` (used in messages) at `base_url`, sending `token` in
    /// `token_header`.
    pub fn new(
        provider: &'static str,
        base_url: &str,
        token_header: &'static str,
        token: &str,
        timeout: Duration,
    ) -> AppResult<JsonApi> {
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(AppError::bad(format!(
                "{provider} url {base_url:?}: must start with http:// or https://"
            )));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .build();
        Ok(JsonApi {
            provider,
            base_url,
            token_header,
            token: token.to_string(),
            agent,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL of `path` with `query` pairs (encoded).
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{}", self.base_url, path);
        for (index, (key, value)) in query.iter().enumerate() {
            url.push(if index == 0 { '?' } else { '&' });
            url.push_str(&encode_component(key));
            url.push('=');
            url.push_str(&encode_component(value));
        }
        url
    }

    fn failure(&self, url: &str, what: impl std::fmt::Display) -> AppError {
        AppError::runtime(format!("{} {url}: {what}", self.provider))
    }

    /// GETs `path?query` with the token and extra headers and parses the body as JSON.
    pub fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
    ) -> AppResult<Value> {
        let url = self.url(path, query);
        let mut request = self
            .agent
            .get(&url)
            .set("Accept", "application/json")
            .set(self.token_header, &self.token);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let response = match request.call() {
            Ok(response) => response,
            Err(ureq::Error::Status(code @ (401 | 403), _)) => {
                return Err(self.failure(
                    &url,
                    format!("authentication failed (HTTP {code}): check the token"),
                ))
            }
            Err(ureq::Error::Status(code, response)) => {
                return Err(self.failure(&url, format!("HTTP {code} {}", response.status_text())))
            }
            Err(ureq::Error::Transport(transport)) => {
                return Err(self.failure(&url, format!("connection failed: {transport}")))
            }
        };
        serde_json::from_reader(response.into_reader())
            .map_err(|e| self.failure(&url, format!("bad JSON: {e}")))
    }

    /// An error about the shape of a response from `path` (a field missing or of the wrong type).
    pub fn shape_error(&self, path: &str, what: impl std::fmt::Display) -> AppError {
        self.failure(&format!("{}{}", self.base_url, path), what)
    }
}

/// Reads a string field that providers send either as a string or a number (ids, keys).
pub fn string_or_number(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads an integer field that providers send either as a number or a numeric string.
pub fn integer(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string field.
pub fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
