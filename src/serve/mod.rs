//! `faultline serve`: a local web application to investigate issues.
//!
//! Server-rendered pages over either store (askama templates shared with
//! the static report, [`crate::output`]), usable without JavaScript: the
//! issues list with its filters in the URL, an issue page with its chart,
//! context fields, samples and actions. Nothing leaves the machine but the
//! links to the AWS console a person chooses to follow.
//!
//! - `mod.rs`: the state, the routes and starting up;
//! - [`query`]: the list's filters as the URL carries them;
//! - [`listing`]: the issues a view shows, from the store;
//! - [`pages`]: the pages people read; [`actions`]: the buttons that change
//!   an issue;
//! - [`security`]: CSP, CSRF, loopback hosts and the access token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::links;
use crate::store::Store;

pub mod actions;
pub mod listing;
pub mod pages;
pub mod query;
pub mod security;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    /// The CSRF token every form carries, fresh for each process.
    csrf: Arc<str>,
    access_token: Option<Arc<str>>,
    /// `Host` values accepted when bound to loopback.
    allowed_hosts: Option<Arc<[String]>>,
    /// The store's region, for console links of samples that name none.
    region: Option<Arc<str>>,
}

/// How to serve.
pub struct Config {
    pub listen: SocketAddr,
    /// Required beyond loopback; checked on every request when given.
    pub token: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to serve on {0} without an access token: anyone who can reach it could read and change issues. \
         Pass --token (or FAULTLINE_SERVE_TOKEN), or listen on 127.0.0.1"
    )]
    NeedsToken(SocketAddr),
    #[error(
        "the access token must be at least 16 characters of letters, digits, '-', '_', '.' or '~'"
    )]
    BadToken,
    #[error(
        "cannot listen on {addr}: {source} (is another faultline serve running? try --listen 127.0.0.1:0)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} is not an AWS region name (such as eu-west-1)")]
    BadRegion(String),
    #[error("cannot draw a random CSRF token: {0}")]
    Random(getrandom::Error),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

impl Config {
    /// Refuses what cannot be served safely, before anything is opened.
    pub fn check(&self) -> Result<(), ServeError> {
        if let Some(region) = self.region.as_deref().filter(|r| !links::is_region(r)) {
            return Err(ServeError::BadRegion(region.to_string()));
        }
        match &self.token {
            Some(token) => {
                let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
                if token.len() < 16 || !token.bytes().all(allowed) {
                    return Err(ServeError::BadToken);
                }
            }
            None if !self.listen.ip().is_loopback() => {
                return Err(ServeError::NeedsToken(self.listen));
            }
            None => {}
        }
        Ok(())
    }
}

/// Binds, reports the address through `ready`, and serves until the process
/// is stopped.
pub async fn run(
    store: Box<dyn Store>,
    config: Config,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    config.check()?;
    let loopback = config.listen.ip().is_loopback();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;
    let allowed_hosts = loopback.then(|| {
        let port = local.port();
        [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ]
        .into_iter()
        .collect::<Arc<[String]>>()
    });
    let state = AppState {
        store: Arc::from(store),
        csrf: security::random_token().map_err(ServeError::Random)?.into(),
        access_token: config.token.map(Arc::from),
        allowed_hosts,
        region: config.region.map(Arc::from),
    };
    ready(local);
    axum::serve(listener, router(state))
        .await
        .map_err(ServeError::Serve)
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::list))
        .route("/issues/{id}", get(pages::issue))
        .route("/issues/{id}/resolve", post(actions::resolve))
        .route("/issues/{id}/ignore", post(actions::ignore))
        .route("/issues/{id}/reopen", post(actions::reopen))
        .route("/issues/{id}/merge", post(actions::merge))
        .route("/issues/{id}/unmerge", post(actions::unmerge))
        .route("/assets/style.css", get(pages::style))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}
