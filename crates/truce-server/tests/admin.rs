//! Access administration: an admin reaches its own actor's users and tokens
//! only, sessions end when their user changes, failed logins are counted
//! per name and client address, and behind TLS the cookie is `Secure`.
//!
//! These tests change the access list, so they use a data directory of their
//! own and take turns (`TURN`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::Mutex;
use tower::ServiceExt;
use truce_core::ActorId;
use truce_server::access::Scope;
use truce_server::{Access, AppState, Grant, PublicUrl, Role, ServerOptions, app};

const PASSWORD: &str = "correct horse battery";
const FORM_PASSWORD: &str = "correct+horse+battery";

static TURN: Mutex<()> = Mutex::const_new(());

fn data_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep().join("istanbul");
        truce_ledger::scenario::load("istanbul-2025", &dir).unwrap();
        dir
    })
}

fn server() -> &'static Arc<AppState> {
    static STATE: OnceLock<Arc<AppState>> = OnceLock::new();
    STATE.get_or_init(|| {
        AppState::new(
            data_dir().clone(),
            Access::open(data_dir()).unwrap(),
            ServerOptions::default(),
        )
        .unwrap()
    })
}

/// Changes the access list as another process would (`truce user add`).
fn edit_access(edit: impl FnOnce(&mut Access, &truce_core::LogState)) {
    let log = truce_ledger::LogView::open(data_dir()).unwrap();
    let mut access = Access::open(data_dir()).unwrap();
    edit(&mut access, log.state());
    access.save().unwrap();
}

fn add_user(name: &str, actor: &str, roles: &[Role]) {
    edit_access(|access, log| {
        let grant = Grant::new(ActorId::new(actor).unwrap(), roles.iter().copied());
        access.set_user(log, name, grant, PASSWORD).unwrap();
    });
}

fn add_token(actor: &str, label: &str) -> String {
    let mut secret = String::new();
    edit_access(|access, log| {
        let grant = Grant::new(ActorId::new(actor).unwrap(), [Role::Viewer]);
        secret = access.add_token(log, grant, label).unwrap();
    });
    secret
}

fn token_id(label: &str) -> String {
    let access = Access::open(data_dir()).unwrap();
    let token = access.tokens(Scope::Operator).find(|t| t.label == label);
    token.unwrap().id
}

async fn send_to(state: &Arc<AppState>, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn login_request(user: &str, password: &str, from: Option<[u8; 4]>) -> Request<Body> {
    let mut request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("user={user}&password={password}")))
        .unwrap();
    if let Some(address) = from {
        let address = SocketAddr::from((address, 40000));
        request.extensions_mut().insert(ConnectInfo(address));
    }
    request
}

/// The session cookie of a successful login.
async fn login(user: &str, password: &str) -> Option<String> {
    let (status, headers, _) = send_to(server(), login_request(user, password, None)).await;
    (status == StatusCode::SEE_OTHER).then(|| {
        let cookie = headers["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    })
}

/// Who a session cookie reads as, by the overview page's greeting.
async fn signed_in_as(cookie: &str) -> Option<String> {
    let request = Request::get("/")
        .header("cookie", cookie)
        .body(Body::empty());
    let (_, _, page) = send_to(server(), request.unwrap()).await;
    let rest = page.split_once("Signed in as <strong>")?.1;
    Some(rest.split_once("</strong>")?.0.to_owned())
}

async fn post_form(path: &str, cookie: &str, form: &str) -> (StatusCode, String) {
    let request = Request::post(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let (status, _, page) = send_to(server(), request).await;
    (status, page)
}

async fn bearer_status(secret: &str) -> StatusCode {
    let request = Request::get("/api/lists")
        .header("authorization", format!("Bearer {secret}"))
        .body(Body::empty())
        .unwrap();
    send_to(server(), request).await.0
}

#[tokio::test]
async fn an_admin_changes_the_users_and_tokens_of_its_own_actor_only() {
    let _turn = TURN.lock().await;
    add_user("int-chief", "intermediary", &[Role::Viewer]);
    add_user("ua-chief", "ua", &[Role::Viewer, Role::Admin]);
    let int_secret = add_token("intermediary", "int-feed");
    let ua_secret = add_token("ua", "ua-feed");
    let admin = login("ua-chief", FORM_PASSWORD).await.unwrap();

    // Taking over the intermediary's user by its name is refused.
    let (status, page) = post_form(
        "/admin",
        &admin,
        "name=int-chief&password=taken+over+now&roles=viewer",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("user name int-chief is taken"), "{page}");
    assert!(login("int-chief", "taken+over+now").await.is_none());
    let intermediary = login("int-chief", FORM_PASSWORD).await.unwrap();
    assert_eq!(
        signed_in_as(&intermediary).await.as_deref(),
        Some("int-chief")
    );

    // Another actor's user and token are answered as missing.
    let (_, page) = post_form("/admin/users/remove", &admin, "name=int-chief").await;
    assert!(page.contains("no user int-chief"), "{page}");
    assert!(login("int-chief", FORM_PASSWORD).await.is_some());
    let int_id = token_id("int-feed");
    let (_, page) = post_form("/admin/tokens/revoke", &admin, &format!("id={int_id}")).await;
    assert!(page.contains(&format!("no token {int_id}")), "{page}");
    assert_eq!(bearer_status(&int_secret).await, StatusCode::OK);

    // The admin page lists the admin's own actor only.
    let ua_id = token_id("ua-feed");
    let (_, page) = post_form("/admin/tokens/revoke", &admin, &format!("id={ua_id}")).await;
    assert!(
        page.contains(&format!("Revoked token <code>{ua_id}</code>")),
        "{page}"
    );
    assert!(
        !page.contains(&int_id) && !page.contains("int-chief"),
        "{page}"
    );
    assert_eq!(bearer_status(&ua_secret).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_end_on_a_password_reset_a_change_of_roles_or_a_removal() {
    let _turn = TURN.lock().await;
    add_user("ua-lead", "ua", &[Role::Viewer, Role::Admin]);
    for name in ["ua-reset", "ua-roles", "ua-gone"] {
        add_user(name, "ua", &[Role::Viewer]);
    }
    let admin = login("ua-lead", FORM_PASSWORD).await.unwrap();
    let mut sessions = Vec::new();
    for name in ["ua-reset", "ua-roles", "ua-gone"] {
        let cookie = login(name, FORM_PASSWORD).await.unwrap();
        assert_eq!(signed_in_as(&cookie).await.as_deref(), Some(name));
        sessions.push(cookie);
    }

    post_form(
        "/admin",
        &admin,
        "name=ua-reset&password=another+long+one&roles=viewer",
    )
    .await;
    assert_eq!(signed_in_as(&sessions[0]).await, None, "a reset ends it");
    assert!(login("ua-reset", "another+long+one").await.is_some());

    // The same password with other roles, changed by another process.
    edit_access(|access, log| {
        let grant = Grant::new(ActorId::new("ua").unwrap(), [Role::Viewer, Role::Editor]);
        access.set_user(log, "ua-roles", grant, PASSWORD).unwrap();
    });
    assert_eq!(signed_in_as(&sessions[1]).await, None, "new roles end it");

    edit_access(|access, _| access.remove_user(Scope::Operator, "ua-gone").unwrap());
    assert_eq!(signed_in_as(&sessions[2]).await, None, "a removal ends it");
    assert!(login("ua-gone", FORM_PASSWORD).await.is_none());
    assert_eq!(signed_in_as(&admin).await.as_deref(), Some("ua-lead"));
}

#[tokio::test]
async fn wrong_guesses_from_one_address_never_lock_out_another() {
    let _turn = TURN.lock().await;
    add_user("int-duty", "intermediary", &[Role::Viewer]);
    let guesser = Some([203, 0, 113, 9]);
    for _ in 0..5 {
        let (status, _, _) = send_to(server(), login_request("int-duty", "a+guess", guesser)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let from_guesser = login_request("int-duty", FORM_PASSWORD, guesser);
    assert_eq!(
        send_to(server(), from_guesser).await.0,
        StatusCode::UNAUTHORIZED
    );
    let from_office = login_request("int-duty", FORM_PASSWORD, Some([10, 0, 0, 7]));
    assert_eq!(
        send_to(server(), from_office).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure_hsts_is_sent_and_only_the_https_origin_may_post() {
    let _turn = TURN.lock().await;
    add_user("obs-tls", "observer", &[Role::Viewer]);
    let options = ServerOptions {
        public_url: Some(PublicUrl::parse("https://truce.example/").unwrap()),
    };
    let state = AppState::new(
        data_dir().clone(),
        Access::open(data_dir()).unwrap(),
        options,
    )
    .unwrap();
    let from = |origin: &str| {
        let mut request = login_request("obs-tls", FORM_PASSWORD, None);
        let headers = request.headers_mut();
        headers.insert("origin", origin.parse().unwrap());
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        request
    };
    let (status, _, _) = send_to(&state, from("http://truce.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = send_to(&state, from("https://truce.example")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(
        headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    // Without a public URL (plain http), neither.
    let (_, headers, _) = send_to(server(), login_request("obs-tls", FORM_PASSWORD, None)).await;
    assert!(!headers["set-cookie"].to_str().unwrap().contains("Secure"));
    assert!(!headers.contains_key("strict-transport-security"));
}

#[test]
fn a_public_url_is_http_or_https_with_a_host() {
    assert!(
        PublicUrl::parse("https://truce.example:8443/base")
            .unwrap()
            .https()
    );
    assert!(!PublicUrl::parse("http://localhost:8080").unwrap().https());
    for bad in [
        "truce.example",
        "ftp://truce.example",
        "https://",
        "https://a@b",
    ] {
        assert!(PublicUrl::parse(bad).is_err(), "{bad}");
    }
}
