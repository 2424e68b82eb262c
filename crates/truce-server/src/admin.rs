//! `/admin`: an actor's admin manages the users and tokens of its own
//! actor, and of no other (`access::Scope::Actor`): it lists them, adds a
//! user or resets one's password and roles, removes a user, revokes a
//! token. A name or token of another actor is answered as one that does
//! not exist.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use truce_core::{ActorId, Reader};

use crate::access::{AccessError, Scope};
use crate::dashboard::{Page, PageError, form_urlencoded, layout, same_origin};
use crate::{AppError, AppState, Caller, Grant, Role};

pub(crate) fn routes() -> axum::Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(admin).post(add_user))
        .route("/admin/users/remove", post(remove_user))
        .route("/admin/tokens/revoke", post(revoke_token))
}

async fn admin(State(state): State<Arc<AppState>>, caller: Caller) -> Page {
    let actor = admin_of(&caller)?;
    Ok(admin_page(&state, &caller, &actor, None)?)
}

/// The actor whose users the caller administers.
fn admin_of(caller: &Caller) -> Result<ActorId, AppError> {
    caller
        .acting_as(Role::Admin)
        .cloned()
        .ok_or(AppError::Forbidden)
}

fn admin_page(
    state: &AppState,
    caller: &Caller,
    actor: &ActorId,
    message: Option<Markup>,
) -> Result<Markup, AppError> {
    let (users, tokens) = {
        let access = state.access()?;
        let scope = Scope::Actor(actor);
        (
            access.users(scope).collect::<Vec<_>>(),
            access.tokens(scope).collect::<Vec<_>>(),
        )
    };
    let roles = |roles| Role::join(roles, ", ");
    let body = html! {
        @if let Some(message) = message { section { (message) } }
        section {
            h2 { "Users of " (actor) }
            table {
                thead { tr { th { "User" } th { "Roles" } th {} } }
                tbody { @for u in &users { tr {
                    td { (u.name) } td { (roles(&u.roles)) }
                    td { form method="post" action="/admin/users/remove" {
                        input type="hidden" name="name" value=(u.name);
                        button type="submit" { "Remove" }
                    } }
                } } }
            }
        }
        section {
            h2 { "Add or reset a user" }
            p.muted.small { "Resetting a password or changing roles ends the user's open sessions." }
            form.stack method="post" action="/admin" {
                label { "User " input type="text" name="name" required; }
                label { "Password (at least " (crate::access::MIN_PASSWORD_CHARS) " characters) " input type="password" name="password" required; }
                @for role in Role::ALL { label { input type="checkbox" name="roles" value=(role.as_str()); " " (role.as_str()) } }
                button type="submit" { "Save" }
            }
        }
        section {
            h2 { "API tokens of " (actor) }
            table {
                thead { tr { th { "Token" } th { "Label" } th { "Roles" } th {} } }
                tbody { @for t in &tokens { tr {
                    td { code { (t.id) } } td { (t.label) } td { (roles(&t.roles)) }
                    td { form method="post" action="/admin/tokens/revoke" {
                        input type="hidden" name="id" value=(t.id);
                        button type="submit" { "Revoke" }
                    } }
                } } }
            }
        }
    };
    Ok(layout(caller, "/admin", "Users and roles", body))
}

/// Checks the form's origin and the caller's admin role, applies `change`
/// to the access list within the caller's actor and saves it, and shows
/// the page with what happened.
fn change_access(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    change: impl FnOnce(&mut crate::Access, &ActorId) -> Result<Markup, AccessError>,
) -> Result<Response, PageError> {
    same_origin(state, headers)?;
    let actor = admin_of(caller)?;
    let result = {
        let mut access = state.access()?;
        change(&mut access, &actor).and_then(|done| access.save().map(|()| done))
    };
    let message = match result {
        Ok(done) => done,
        Err(e) => html! { p.error { (e.0) } },
    };
    Ok(admin_page(state, caller, &actor, Some(message))?.into_response())
}

async fn add_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    // Repeated `roles` fields: parsed by hand, as axum's Form keeps one.
    let mut name = String::new();
    let mut password = String::new();
    let mut roles = Vec::new();
    for (key, value) in form_urlencoded(&body) {
        match key.as_str() {
            "name" => name = value,
            "password" => password = value,
            "roles" => roles.push(Role::parse(&value).map_err(|e| AppError::BadRequest(e.0))?),
            _ => {}
        }
    }
    let log = state.state_for(&Reader::Intermediary)?;
    change_access(&state, &caller, &headers, |access, actor| {
        access.set_user(&log, &name, Grant::new(actor.clone(), roles), &password)?;
        Ok(html! { p { "Saved user " strong { (name) } "." } })
    })
}

async fn remove_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let name = form_field(&body, "name");
    change_access(&state, &caller, &headers, |access, actor| {
        access.remove_user(Scope::Actor(actor), &name)?;
        Ok(html! { p { "Removed user " strong { (name) } "; its sessions have ended." } })
    })
}

async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let id = form_field(&body, "id");
    change_access(&state, &caller, &headers, |access, actor| {
        access.revoke_token(Scope::Actor(actor), &id)?;
        Ok(html! { p { "Revoked token " code { (id) } "." } })
    })
}

fn form_field(body: &str, name: &str) -> String {
    form_urlencoded(body)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
        .unwrap_or_default()
}
