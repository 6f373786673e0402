//! The buttons that change an issue: resolve, ignore, reopen, merge and
//! unmerge. They check and mean what the CLI's `faultline issues
//! resolve|ignore|reopen|merge|unmerge` do ([`crate::change`], the store's
//! own checks), and each carries the CSRF token of the page it was on.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use serde::Deserialize;

use crate::change;
use crate::model::StatusChange;
use crate::pipeline::system_clock;
use crate::store;

use super::AppState;
use super::pages::PageError;
use super::security::same_secret;

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    in_version: Option<String>,
}

#[derive(Deserialize)]
pub struct IgnoreForm {
    #[serde(default)]
    csrf: String,
    until: Option<String>,
    #[serde(rename = "for")]
    for_count: Option<String>,
}

#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    csrf: String,
}

pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Result<Redirect, PageError> {
    check(&state, &form.csrf)?;
    let change = change::resolve(given(&form.in_version))?;
    apply(&state, &id, change, "resolved").await
}

pub async fn ignore(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<IgnoreForm>,
) -> Result<Redirect, PageError> {
    check(&state, &form.csrf)?;
    let for_count = given(&form.for_count).map(change::count).transpose()?;
    let change = change::ignore(given(&form.until), for_count, system_clock())?;
    apply(&state, &id, change, "ignored").await
}

pub async fn reopen(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<PlainForm>,
) -> Result<Redirect, PageError> {
    check(&state, &form.csrf)?;
    apply(&state, &id, StatusChange::Open, "reopened").await
}

#[derive(Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    into: String,
}

/// Merges this issue into the one named (an id or a unique prefix), and
/// shows that one.
pub async fn merge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<MergeForm>,
) -> Result<Redirect, PageError> {
    check(&state, &form.csrf)?;
    let typed = form.into.trim();
    if typed.is_empty() {
        return Err(PageError::MissingInto);
    }
    let from = store::resolve_id(state.store.as_ref(), &id).await?;
    let into = store::resolve_id(state.store.as_ref(), typed).await?;
    state.store.merge(&into, &from).await?;
    Ok(Redirect::to(&format!("/issues/{into}?done=merged")))
}

pub async fn unmerge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<PlainForm>,
) -> Result<Redirect, PageError> {
    check(&state, &form.csrf)?;
    let id = store::resolve_id(state.store.as_ref(), &id).await?;
    state.store.unmerge(&id).await?;
    Ok(Redirect::to(&format!("/issues/{id}?done=unmerged")))
}

/// A form sends every box, filled or not: an empty one is a value not given.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn check(state: &AppState, csrf: &str) -> Result<(), PageError> {
    if same_secret(csrf, &state.csrf) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

/// Changes the status and sends the browser back to the issue (a redirect
/// after a POST, so reloading the page does not send the form again).
async fn apply(
    state: &AppState,
    id: &str,
    change: StatusChange,
    done: &str,
) -> Result<Redirect, PageError> {
    let id = store::resolve_id(state.store.as_ref(), id).await?;
    state.store.set_status(&id, &change).await?;
    Ok(Redirect::to(&format!("/issues/{id}?done={done}")))
}
