//! Who may use the server and how a page may behave.
//!
//! - Every response carries a Content Security Policy that allows the
//!   server's own stylesheet and nothing else: no script at all, inline or
//!   not, so markup that slipped past escaping still could not run.
//! - Requests that change state carry a per-process CSRF token in the form,
//!   and a browser's cross-site requests are refused before that.
//! - Bound to loopback, only requests naming a loopback host are answered,
//!   so a web page cannot reach the server by rebinding its own domain name
//!   to 127.0.0.1. Beyond loopback the server needs an access token, given
//!   once in the URL (`?token=`) and then kept in a cookie.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const TOKEN_COOKIE: &str = "faultline_token";

/// A fresh random token, hex-encoded: 128 bits.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares a secret without stopping at the first difference, so response
/// times do not tell how much of a guess was right.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Runs before every handler: host, access token, cross-site writes; and
/// after it: the security headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(hosts) = &state.allowed_hosts {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return refuse(
                StatusCode::MISDIRECTED_REQUEST,
                "this server answers only requests addressed to its loopback address",
            );
        }
    }
    if let Some(token) = &state.access_token {
        if let Some(given) = query_token(request.uri()) {
            if same_secret(&given, token) {
                return with_headers(remember_token(request.uri(), token));
            }
            return refuse(StatusCode::UNAUTHORIZED, "wrong token");
        }
        let cookie = cookie_token(request.headers());
        if !cookie.is_some_and(|c| same_secret(&c, token)) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "this faultline serve needs the token it was started with: open it as /?token=TOKEN",
            );
        }
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let cross_site = request
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v != "same-origin" && v != "none");
        let foreign_origin = match (
            request.headers().get(header::ORIGIN),
            request.headers().get(header::HOST),
        ) {
            (Some(origin), Some(host)) => {
                let origin = origin.to_str().unwrap_or("");
                let host = host.to_str().unwrap_or("");
                origin.split_once("://").map(|(_, h)| h) != Some(host)
            }
            _ => false,
        };
        if cross_site || foreign_origin {
            return refuse(
                StatusCode::FORBIDDEN,
                "refused a request that came from another site",
            );
        }
    }
    with_headers(next.run(request).await)
}

fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not no-referrer: with it Chromium sends `Origin: null` on form posts,
        // which the origin check must refuse. Same-origin still tells the
        // console links nothing.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    with_headers(
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("faultline: {message}\n"),
        )
            .into_response(),
    )
}

fn query_token(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// Keeps the token in a cookie and sends the browser on to the same page
/// without it, so the token leaves the address bar and the history.
fn remember_token(uri: &Uri, token: &str) -> Response {
    let rest: Vec<(String, String)> = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "token")
        .collect();
    let query = serde_urlencoded::to_string(&rest).unwrap_or_default();
    let location = if query.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{query}", uri.path())
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
        let token = random_token().unwrap();
        assert_eq!(token.len(), 32);
        assert_ne!(token, random_token().unwrap());
    }

    #[test]
    fn the_token_moves_from_the_url_to_a_cookie() {
        let uri: Uri = "/issues/abc?token=s3cret&range=7d".parse().unwrap();
        assert_eq!(query_token(&uri).as_deref(), Some("s3cret"));
        let response = remember_token(&uri, "s3cret");
        assert_eq!(response.headers()[header::LOCATION], "/issues/abc?range=7d");
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("faultline_token=s3cret;") && cookie.contains("HttpOnly"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; faultline_token=s3cret"),
        );
        assert_eq!(cookie_token(&headers).as_deref(), Some("s3cret"));
    }
}
