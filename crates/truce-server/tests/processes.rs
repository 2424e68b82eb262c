//! Two server processes on one store, as a shared deployment runs them:
//! each has its own connections and memory, so whatever one knows of
//! users, sessions and failed logins the other must read from the store.
//! Runs on SQLite always and on PostgreSQL when `TRUCE_TEST_PG` names a
//! database (else says, loudly, that it did not).

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;
use truce_core::ActorId;
use truce_ledger::{Ledger, LedgerOptions};
use truce_server::access::Scope;
use truce_server::{Access, AppState, Grant, Role, app};
use truce_store::{Backend, Place};

const PASSWORD: &str = "correct horse battery";

/// The scenario on one store, and its PostgreSQL schema to drop after.
struct Deployment {
    _temp: tempfile::TempDir,
    place: Place,
    schema: Option<(String, String)>,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema {
            let _ = truce_store::pg::drop_schema(base, schema);
        }
    }
}

fn deployments() -> Vec<Deployment> {
    let mut backends = vec![None];
    match std::env::var("TRUCE_TEST_PG") {
        Ok(base) => backends.push(Some(base)),
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED ON POSTGRESQL: set TRUCE_TEST_PG=postgres://user:password@host/db ***\n"
            );
        }
    }
    let deploy = |pg: Option<String>| {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("istanbul");
        let (backend, schema) = match pg {
            None => (Backend::Sqlite, None),
            Some(base) => {
                let name = format!("truce_processes_{}_{}", std::process::id(), rand_suffix());
                let url = truce_store::pg::fresh_schema(&base, &name).unwrap();
                (Backend::Postgres(url), Some((base, name)))
            }
        };
        let place = Place { dir, backend };
        let loaded = truce_ledger::scenario::load("istanbul-2025", place.clone()).unwrap();
        let mut access = Access::open(&place).unwrap();
        for (name, actor) in [("ua-user", "ua"), ("obs-user", "observer")] {
            let grant = Grant::new(ActorId::new(actor).unwrap(), [Role::Viewer]);
            (access.set_user(loaded.ledger.state(), name, grant, PASSWORD)).unwrap();
        }
        access.save().unwrap();
        Deployment {
            _temp: temp,
            place,
            schema,
        }
    };
    backends.into_iter().map(deploy).collect()
}

fn rand_suffix() -> String {
    truce_server::access::random_hex::<4>()
}

/// A server process on the deployment's store.
fn server(deployment: &Deployment) -> Arc<AppState> {
    let place = &deployment.place;
    let ledger = Ledger::open(place, LedgerOptions::default()).unwrap();
    let access = Access::open(place).unwrap();
    AppState::with_ledger(place.dir.clone(), ledger, access, Default::default()).unwrap()
}

async fn send(server: &Arc<AppState>, request: Request<Body>) -> (StatusCode, HeaderMap) {
    let response = app(server.clone()).oneshot(request).await.unwrap();
    (response.status(), response.headers().clone())
}

/// Logs in; the session cookie, if the login was let in.
async fn login(server: &Arc<AppState>, user: &str, password: &str) -> Option<String> {
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "user={user}&password={}",
            password.replace(' ', "+")
        )))
        .unwrap();
    let (status, headers) = send(server, request).await;
    let cookie = headers
        .get("set-cookie")?
        .to_str()
        .ok()?
        .split(';')
        .next()?;
    (status == StatusCode::SEE_OTHER).then(|| cookie.to_owned())
}

/// Whether the cookie reads as its user there (a party's own list is
/// shown to it, and is not found for the public).
async fn signed_in(server: &Arc<AppState>, cookie: &str) -> bool {
    let request = Request::get("/lists/ua-sought-pow")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    send(server, request).await.0 == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_opened_on_one_process_is_known_to_the_other_until_it_logs_out() {
    for deployment in deployments() {
        let (one, other) = (server(&deployment), server(&deployment));
        let cookie = login(&one, "ua-user", PASSWORD).await.expect("logged in");
        assert!(signed_in(&one, &cookie).await);
        assert!(signed_in(&other, &cookie).await, "{}", deployment.place);
        let logout = Request::post("/logout")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap();
        send(&other, logout).await;
        assert!(
            !signed_in(&one, &cookie).await,
            "closed on the other process"
        );
        assert!(!signed_in(&other, &cookie).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_spread_over_two_processes_delay_the_name_on_both() {
    for deployment in deployments() {
        let (one, other) = (server(&deployment), server(&deployment));
        for attempt in 0..truce_server::throttle::FREE_ATTEMPTS {
            let server = if attempt % 2 == 0 { &one } else { &other };
            assert_eq!(login(server, "obs-user", "wrong password!").await, None);
        }
        // Delayed on both: even the right password is refused for a while.
        assert_eq!(login(&one, "obs-user", PASSWORD).await, None);
        assert_eq!(login(&other, "obs-user", PASSWORD).await, None);
        // Another name is not.
        assert!(login(&other, "ua-user", PASSWORD).await.is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_changed_by_the_operator_is_seen_by_every_running_process() {
    for deployment in deployments() {
        let (one, other) = (server(&deployment), server(&deployment));
        let cookie = login(&one, "ua-user", PASSWORD).await.unwrap();
        // The operator's `truce user remove`, while both serve.
        let mut access = Access::open(&deployment.place).unwrap();
        access.remove_user(Scope::Operator, "ua-user").unwrap();
        access.save().unwrap();
        assert!(!signed_in(&one, &cookie).await, "its session ended");
        assert!(!signed_in(&other, &cookie).await);
        assert_eq!(login(&other, "ua-user", PASSWORD).await, None);
        // A change made from a copy read before another process's change
        // is refused, not written over it.
        let mut stale = Access::open(&deployment.place).unwrap();
        let mut fresh = Access::open(&deployment.place).unwrap();
        fresh.remove_user(Scope::Operator, "obs-user").unwrap();
        fresh.save().unwrap();
        stale.remove_user(Scope::Operator, "obs-user").unwrap();
        let refused = stale.save().unwrap_err();
        assert!(
            refused.0.contains("changed by another process"),
            "{refused}"
        );
    }
}

#[test]
fn the_access_file_of_an_older_data_directory_moves_into_the_store() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    truce_ledger::scenario::load("istanbul-2025", &dir).unwrap();
    let file = dir.join(truce_ledger::KEYS_DIR).join("access.json");
    let older = r#"{"users": {"ua-old": {"actor": "ua", "roles": ["viewer"],
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA"}}, "tokens": {}}"#;
    std::fs::write(&file, older).unwrap();
    let access = Access::open(&dir).unwrap();
    let names: Vec<String> = access.users(Scope::Operator).map(|u| u.name).collect();
    assert!(names.contains(&"ua-old".to_owned()), "{names:?}");
    assert!(!file.exists(), "moved, not copied");
    // Opened again, from the store.
    let again = Access::open(&dir).unwrap();
    assert_eq!(again.users(Scope::Operator).count(), names.len());
    // A file beside users already in the store is refused by name.
    std::fs::write(&file, older).unwrap();
    let refused = Access::open(&dir).err().expect("refused");
    assert!(refused.0.contains("access.json"), "{refused}");
    assert!(file.exists(), "left for the operator to check");
    // A file that is not valid JSON is named with its line.
    std::fs::write(&file, "{\n  \"users\": nope\n}").unwrap();
    let broken = Access::open(&dir).err().expect("refused");
    assert!(broken.0.contains("access.json: line 2"), "{broken}");
}
