//! The access matrix: every route for every reader (the intermediary, each
//! party, the observer, the public, a wrong token), asserting allow or deny,
//! and that no personal record of one party reaches the other party, the
//! observer or the public.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use truce_core::exchange::ExchangeEvent;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use tower::ServiceExt;
use truce_core::ActorId;

use axum::http::HeaderMap;
use truce_server::{Access, AppState, Grant, Role, app};

/// The Istanbul scenario, loaded once for the whole test binary.
fn data_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let temp = tempfile::tempdir().unwrap().keep();
        let dir = temp.join("istanbul");
        truce_ledger::scenario::load("istanbul-2025", &dir).unwrap();
        dir
    })
}

/// The credentials the tests use: an API token per (actor, roles), and a
/// user with a password per actor and role.
struct Fixture {
    state: Arc<AppState>,
    tokens: BTreeMap<&'static str, String>,
}

const PASSWORD: &str = "correct horse battery";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let log = truce_ledger::LogView::open(data_dir()).unwrap();
        let mut access = Access::open(data_dir()).unwrap();
        let mut tokens = BTreeMap::new();
        for (name, actor, roles) in CREDENTIALS {
            let name: &'static str = name;
            let grant = Grant::new(ActorId::new(actor).unwrap(), roles.iter().copied());
            tokens.insert(
                name,
                access.add_token(log.state(), grant.clone(), name).unwrap(),
            );
            access.set_user(log.state(), name, grant, PASSWORD).unwrap();
        }
        access.save().unwrap();
        Fixture {
            state: AppState::new(
                data_dir().clone(),
                Access::open(data_dir()).unwrap(),
                Default::default(),
            )
            .unwrap(),
            tokens,
        }
    })
}

/// (name, actor, roles): each is both a token's label and a user's name.
const CREDENTIALS: [(&str, &str, &[Role]); 10] = [
    ("int-viewer", "intermediary", &[Role::Viewer]),
    ("int-signer", "intermediary", &[Role::Viewer, Role::Signer]),
    ("int-admin", "intermediary", &[Role::Admin]),
    ("ua-viewer", "ua", &[Role::Viewer]),
    ("ua-editor", "ua", &[Role::Viewer, Role::Editor]),
    ("ua-signer", "ua", &[Role::Viewer, Role::Signer]),
    ("ua-admin", "ua", &[Role::Viewer, Role::Admin]),
    ("ru-viewer", "ru", &[Role::Viewer]),
    ("ru-signer", "ru", &[Role::Viewer, Role::Signer]),
    ("obs-viewer", "observer", &[Role::Viewer]),
];

async fn send(request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app(fixture().state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// GET with the named credential's bearer token (None: the public).
async fn get(uri: &str, who: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(who) = who {
        let token = fixture().tokens.get(who).map_or(who, |t| t.as_str());
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let (status, _, body) = send(request.body(Body::empty()).unwrap()).await;
    (status, body)
}

const READERS: [(&str, Option<&str>); 5] = [
    ("intermediary", Some("int-viewer")),
    ("ua", Some("ua-viewer")),
    ("ru", Some("ru-viewer")),
    ("observer", Some("obs-viewer")),
    ("public", None),
];

#[tokio::test]
async fn every_route_allows_or_denies_each_reader_as_it_should() {
    let remains = "/api/exchanges/progress?term=joint-exchange-2025-06-02%23remains";
    let queue = "/api/review-queue?sought=ua-sought-pow&held=ru-held-pow";
    // (route, expected status for intermediary, ua, ru, observer, public)
    let matrix: [(&str, [u16; 5]); 29] = [
        ("/openapi.json", [200; 5]),
        ("/checkpoint", [200; 5]),
        ("/tile/0/000", [200; 5]),
        ("/tile/entries/000", [200; 5]),
        ("/api/rounds", [200; 5]),
        ("/api/terms", [200; 5]),
        ("/api/claims", [200; 5]),
        ("/api/positions", [200; 5]),
        ("/api/deadlines?today=2025-06-05", [200; 5]),
        ("/api/discrepancies", [200; 5]),
        ("/api/entries/0", [200; 5]),
        ("/api/entries/999999", [404; 5]),
        ("/api/copy?start=0&limit=10", [200, 200, 200, 200, 403]),
        (remains, [200; 5]),
        ("/api/lists", [200; 5]),
        ("/api/lists/ru-held-pow", [200, 404, 200, 404, 404]),
        (queue, [200, 403, 403, 403, 403]),
        // The dashboard's pages, rendered from the same folds.
        ("/", [200; 5]),
        ("/agreement", [200; 5]),
        ("/exchanges", [200; 5]),
        ("/lists", [200; 5]),
        ("/lists/ru-held-pow", [200, 404, 200, 404, 404]),
        ("/lists/ua-sought-pow", [200, 200, 404, 404, 404]),
        ("/log", [200; 5]),
        ("/log/0", [200; 5]),
        ("/log/999999", [404; 5]),
        ("/review", [200, 403, 403, 403, 403]),
        ("/admin", [403; 5]),
        ("/static/truce.js", [200; 5]),
    ];
    for (route, expected) in matrix {
        for ((reader, token), want) in READERS.iter().zip(expected) {
            let (status, body) = get(route, *token).await;
            assert_eq!(status.as_u16(), want, "{reader} GET {route}: {body}");
        }
        // Every role of every actor reads what its actor may read, no more
        // (the admin page aside, which needs the admin role).
        for (name, actor, roles) in CREDENTIALS {
            let column = ["intermediary", "ua", "ru", "observer"]
                .iter()
                .position(|a| *a == actor)
                .unwrap();
            let want = if route == "/admin" && roles.contains(&Role::Admin) {
                200
            } else {
                expected[column]
            };
            let (status, body) = get(route, Some(name)).await;
            assert_eq!(status.as_u16(), want, "{name} GET {route}: {body}");
        }
    }
    // A token nobody issued is refused, not read as the public.
    assert_eq!(
        get("/api/lists", Some("forged")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get("/tile/0/0", None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_reader_sees_its_own_lists_and_everyone_the_same_aggregates() {
    let expected_lists = [
        ("intermediary", 6),
        ("ua", 3),
        ("ru", 3),
        ("observer", 0),
        ("public", 0),
    ];
    for ((reader, token), (_, lists)) in READERS.iter().zip(expected_lists) {
        let (_, body) = get("/api/lists", *token).await;
        let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), lists, "{reader}: {body}");
        let (_, body) = get(
            "/api/exchanges/progress?term=joint-exchange-2025-06-02%23remains",
            *token,
        )
        .await;
        let progress: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            progress["handed_over"],
            serde_json::json!([27, 6057]),
            "{reader}"
        );
    }
}

#[tokio::test]
async fn no_personal_record_of_one_party_reaches_another_reader() {
    let routes = [
        "/api/rounds",
        "/api/terms",
        "/api/claims",
        "/api/lists",
        "/api/lists/ru-held-pow",
        "/api/lists/ua-held-pow",
        "/api/lists/ru-sought-pow",
        "/api/lists/ua-sought-pow",
        "/api/exchanges/progress?term=joint-exchange-2025-06-02%23prisoners",
        "/tile/entries/000",
    ];
    // Person ids carry their list's prefix: ru's records are "ru-h-"/"ru-s-".
    for ((reader, token), foreign) in
        READERS
            .iter()
            .zip([None, Some("\"ru-"), Some("\"ua-"), Some("-"), Some("-")])
    {
        let Some(foreign) = foreign else { continue };
        for route in routes {
            let (_, body) = get(route, *token).await;
            let leaks = |prefix: &str| {
                body.contains(&format!("{prefix}h-")) || body.contains(&format!("{prefix}s-"))
            };
            let leaked = if foreign == "-" {
                leaks("\"ua-") || leaks("\"ru-")
            } else {
                leaks(foreign)
            };
            assert!(
                !leaked,
                "{reader} GET {route} holds another party's person records"
            );
            assert!(
                !body.contains("\"family_name\"")
                    || route.contains(&format!("/api/lists/{}", &reader[..2])),
                "{reader} GET {route} holds names"
            );
        }
    }
}

#[tokio::test]
async fn the_openapi_description_names_every_api_route() {
    let (status, body) = get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let description: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut paths: Vec<&str> = description["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "/api/actors",
            "/api/claims",
            "/api/consistency",
            "/api/copy",
            "/api/cosignatures",
            "/api/deadlines",
            "/api/discrepancies",
            "/api/entries/{index}",
            "/api/events",
            "/api/exchanges/progress",
            "/api/lists",
            "/api/lists/{list_id}",
            "/api/positions",
            "/api/review-queue",
            "/api/rounds",
            "/api/submissions",
            "/api/terms",
            "/checkpoint",
            "/tile/{path}",
        ]
    );
    assert!(description["components"]["securitySchemes"]["bearer"].is_object());
}

/// Roles within an actor: reading needs any role; the admin page needs
/// admin; recording needs editor or signer by the event's kind; the
/// review's decisions need the intermediary's signer.
#[tokio::test]
async fn each_role_may_do_what_it_grants_and_nothing_more() {
    for (who, admin) in [
        ("ua-admin", 200),
        ("int-admin", 200),
        ("ua-signer", 403),
        ("ua-viewer", 403),
    ] {
        assert_eq!(get("/admin", Some(who)).await.0.as_u16(), admin, "{who}");
    }
    // The admin page lists the admin's own actor's users only.
    let (_, page) = get("/admin", Some("ua-admin")).await;
    assert!(
        page.contains("ua-editor") && !page.contains("int-signer"),
        "{page}"
    );

    let decide = |who: &str| {
        let token = fixture().tokens[who].clone();
        Request::post("/review")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(
                "sought_list=ua-sought-pow&sought_person=nobody&held_list=ru-held-pow&held_person=nobody&verdict=confirmed",
            ))
            .unwrap()
    };
    for who in ["int-viewer", "ua-signer", "int-admin"] {
        assert_eq!(send(decide(who)).await.0, StatusCode::FORBIDDEN, "{who}");
    }
    // The intermediary's signer may decide, but only a real candidate.
    assert_eq!(send(decide("int-signer")).await.0, StatusCode::BAD_REQUEST);
}

fn cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("set-cookie")?
        .to_str()
        .ok()?
        .split(';')
        .next()
        .map(str::to_owned)
}

async fn login(user: &str, password: &str) -> (StatusCode, Option<String>) {
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("user={user}&password={password}")))
        .unwrap();
    let (status, headers, _) = send(request).await;
    (status, cookie_of(&headers))
}

async fn get_with_cookie(uri: &str, cookie: &str) -> (StatusCode, String) {
    let request = Request::get(uri)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(request).await;
    (status, body)
}

#[tokio::test]
async fn a_browser_session_sees_what_its_user_may_see_until_it_logs_out() {
    let (status, cookie) = login("ua-viewer", "correct+horse+battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("truce_session="));
    let (status, page) = get_with_cookie("/lists/ua-sought-pow", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Signed in as <strong>ua-viewer</strong>"),
        "{page}"
    );
    assert_eq!(
        get_with_cookie("/lists/ru-held-pow", &cookie).await.0,
        StatusCode::NOT_FOUND
    );
    let logout = Request::post("/logout")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    send(logout).await;
    assert_eq!(
        get_with_cookie("/lists/ua-sought-pow", &cookie).await.0,
        StatusCode::NOT_FOUND,
        "a closed session reads as the public"
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_repeated_failures_delay_the_name() {
    assert_eq!(
        login("ru-viewer", "wrong+password").await,
        (StatusCode::UNAUTHORIZED, None)
    );
    assert_eq!(
        login("nobody", "wrong+password").await,
        (StatusCode::UNAUTHORIZED, None)
    );
    for _ in 0..5 {
        login("obs-viewer", "wrong+password").await;
    }
    // Locked: even the right password is refused for a while.
    assert_eq!(
        login("obs-viewer", "correct+horse+battery").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("ru-viewer", "correct+horse+battery").await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_form_posted_from_another_site_or_scheme_is_refused() {
    let from = |origin: &str| {
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "truce.example")
            .header("origin", origin)
            .body(Body::from("user=ua-viewer&password=correct+horse+battery"))
            .unwrap()
    };
    assert_eq!(
        send(from("https://evil.example")).await.0,
        StatusCode::FORBIDDEN
    );
    // The server speaks plain http here: an https page of the same host
    // is another origin.
    assert_eq!(
        send(from("https://truce.example")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(from("http://truce.example")).await.0,
        StatusCode::SEE_OTHER
    );
}

/// Names of one party's people never reach another reader, on any page
/// or route: checked with the real family names of each party's lists.
#[tokio::test]
async fn no_name_of_one_party_reaches_another_reader_on_any_page() {
    let log = truce_ledger::LogView::open(data_dir()).unwrap();
    let names_of = |party: &str| -> Vec<String> {
        let mut names: Vec<String> = log
            .state()
            .exchange()
            .lists()
            .filter(|l| l.party.as_str() == party)
            .flat_map(|l| l.persons.iter())
            .filter(|p| p.family_name.chars().count() > 2)
            .map(|p| format!(">{}<", p.family_name))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let (mut ua_names, mut ru_names) = (names_of("ua"), names_of("ru"));
    // A family name both parties list (each writing its own people) is no leak.
    let shared: Vec<String> = ua_names
        .iter()
        .filter(|n| ru_names.contains(n))
        .cloned()
        .collect();
    ua_names.retain(|n| !shared.contains(n));
    ru_names.retain(|n| !shared.contains(n));
    assert!(ua_names.len() > 100 && ru_names.len() > 100);
    let pages = [
        "/",
        "/agreement",
        "/exchanges",
        "/lists",
        "/log",
        "/lists/ru-held-pow",
        "/lists/ua-held-pow",
        "/lists/ua-sought-pow",
        "/lists/ru-sought-pow",
        "/review",
    ];
    for (reader, foreign) in [
        ("ua-viewer", vec![&ru_names]),
        ("ru-viewer", vec![&ua_names]),
        ("obs-viewer", vec![&ua_names, &ru_names]),
    ] {
        for page in pages {
            let (_, body) = get(page, Some(reader)).await;
            for names in &foreign {
                if let Some(name) = names.iter().find(|n| body.contains(n.as_str())) {
                    panic!("{reader} GET {page} shows another party's person {name}");
                }
            }
        }
    }
    let entries = log.state().tree_size();
    for index in (0..entries).step_by(97) {
        let (_, body) = get(&format!("/log/{index}"), Some("obs-viewer")).await;
        assert!(
            !body.contains("family_name"),
            "observer sees a person at entry {index}"
        );
    }
}

async fn post_event(
    who: &str,
    event: serde_json::Value,
    visibility: serde_json::Value,
) -> (StatusCode, String) {
    post_event_once(who, event, visibility, None).await
}

/// POST /api/events, with an idempotency key if given.
async fn post_event_once(
    who: &str,
    event: serde_json::Value,
    visibility: serde_json::Value,
    idempotency_key: Option<&str>,
) -> (StatusCode, String) {
    let token = &fixture().tokens[who];
    let body = serde_json::json!({"event": event, "visibility": visibility}).to_string();
    let mut request = Request::post("/api/events")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let (status, _, body) = send(request.body(Body::from(body)).unwrap()).await;
    (status, body)
}

fn index_of(body: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["index"]
        .as_u64()
        .unwrap_or_else(|| panic!("no index in {body}"))
}

/// The scenario's largest list (ru's remains, 2.3 MB, above axum's default
/// body limit of 2 MB) goes over HTTP as a new version, refused for nothing.
#[tokio::test]
async fn the_scenarios_largest_list_is_submitted_over_http() {
    let log = truce_ledger::LogView::open(data_dir()).unwrap();
    let mut list = log
        .state()
        .exchange()
        .list("ru-held-remains")
        .unwrap()
        .clone();
    list.version += 1;
    let event = serde_json::to_value(truce_core::Event::Exchange(ExchangeEvent::ListSubmitted(
        list,
    )))
    .unwrap();
    assert!(event.to_string().len() > 2 << 20, "a body above 2 MiB");
    let (status, body) = post_event("ru-signer", event, serde_json::json!({"party": "ru"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The demo's parties declared that the server holds their keys: the
/// server signs for a caller in the role the event's kind needs, and the
/// entry is signed by the party, not by the intermediary.
#[tokio::test]
async fn the_server_signs_with_a_party_key_it_holds_for_the_role_the_event_needs() {
    let remark = serde_json::json!({"kind": "remark_recorded", "subject": "stage 4", "text": "received as listed"});
    let ua_only = serde_json::json!({"party": "ua"});
    assert_eq!(
        post_event("ua-viewer", remark.clone(), ua_only.clone())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = post_event("ua-editor", remark.clone(), ua_only.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let index: u64 = serde_json::from_str::<serde_json::Value>(&body).unwrap()["index"]
        .as_u64()
        .unwrap();
    let log = truce_ledger::LogView::open(data_dir()).unwrap();
    let entry = truce_store::LogStore::entry(log.store(), index)
        .unwrap()
        .unwrap();
    let envelope = truce_core::Envelope::from_leaf(&entry.leaf).unwrap();
    assert_eq!(envelope.statement().actor.as_str(), "ua");
    // A position is a commitment: an editor may not make it.
    let position = serde_json::json!({"kind": "position_taken", "party": "ua",
        "term": {"document_id": "ua-memorandum-2025-06", "term_id": "ceasefire"},
        "stance": {"kind": "accepted"}, "date": "2025-06-20", "source_document": null, "note": "test"});
    assert_eq!(
        post_event("ua-editor", position.clone(), serde_json::json!("public"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // The log's rules still apply to what the server signs: ua may not speak for ru.
    let for_ru = serde_json::json!({"kind": "position_taken", "party": "ru",
        "term": {"document_id": "ua-memorandum-2025-06", "term_id": "ceasefire"},
        "stance": {"kind": "accepted"}, "date": "2025-06-20", "source_document": null, "note": "test"});
    let (status, body) = post_event("ua-signer", for_ru, serde_json::json!("public")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The refusal carries a code and its parameters for a client to
    // translate, beside the English.
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "party-states-only-own-positions");
    assert_eq!(body["error"], "a party states only its own positions");
    assert_eq!(body["params"], serde_json::json!({}));
    // Without a visibility, the event takes the one its domain gives it:
    // a position is public.
    let (status, body) = post_event("ua-signer", position, serde_json::Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let log = truce_ledger::LogView::open(data_dir()).unwrap();
    let entry = truce_store::LogStore::entry(log.store(), index_of(&body))
        .unwrap()
        .unwrap();
    let envelope = truce_core::Envelope::from_leaf(&entry.leaf).unwrap();
    assert_eq!(
        envelope.statement().visibility,
        truce_core::Visibility::Public
    );
    let late = serde_json::json!({"kind": "remark_recorded", "subject": "", "text": "x"});
    let (_, body) = post_event("ua-editor", late, serde_json::json!("public")).await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "remark-size", "{body}");
}

/// Concurrent appends share transactions (group commit); each gets its own
/// entry, the server numbers a party's statements in order, an invalid one
/// is refused alone (it takes no sequence number from the valid ones), and
/// the log still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_each_get_an_entry_and_a_bad_one_sinks_nothing() {
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let subject = if i % 4 == 3 { " " } else { "load" };
            let remark = serde_json::json!({"kind": "remark_recorded", "subject": subject, "text": format!("remark {i}")});
            tokio::spawn(post_event("ua-editor", remark, serde_json::json!({"party": "ua"})))
        })
        .collect();
    let mut indices = Vec::new();
    for (i, request) in requests.into_iter().enumerate() {
        let (status, body) = request.await.unwrap();
        if i % 4 == 3 {
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "request {i}: {body}"
            );
        } else {
            assert_eq!(status, StatusCode::OK, "request {i}: {body}");
            indices.push(index_of(&body));
        }
    }
    indices.sort();
    indices.dedup();
    assert_eq!(indices.len(), 30, "one entry each");
    let report = truce_ledger::verify::verify_data_dir(data_dir(), None).unwrap();
    assert!(report.tree_size > *indices.last().unwrap());
}

/// A client that retries a server-signed event with the same idempotency
/// key gets the first entry back, and the log holds the event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_event_with_an_idempotency_key_is_recorded_once() {
    let remark =
        serde_json::json!({"kind": "remark_recorded", "subject": "retry", "text": "sent twice"});
    let party = serde_json::json!({"party": "ua"});
    let retries: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(post_event_once(
                "ua-editor",
                remark.clone(),
                party.clone(),
                Some("ua-retry-0001"),
            ))
        })
        .collect();
    let mut indices = Vec::new();
    for retry in retries {
        let (status, body) = retry.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        indices.push(index_of(&body));
    }
    assert!(indices.windows(2).all(|w| w[0] == w[1]), "{indices:?}");
    // Another key is another event.
    let (status, body) = post_event_once("ua-editor", remark, party, Some("ua-retry-0002")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(index_of(&body) > indices[0]);
}

/// An entry as JSON: the envelope for everyone, the payload only for a
/// reader who may read it, and an inclusion proof that verifies against
/// the checkpoint's root.
#[tokio::test]
async fn an_entry_comes_with_an_inclusion_proof_and_only_visible_payloads() {
    let log = truce_ledger::LogView::open(data_dir()).unwrap();
    let list_entry = log
        .state()
        .exchange()
        .list("ru-held-pow")
        .map(|_| {
            (0..log.state().tree_size())
                .find(|i| {
                    let entry = truce_store::LogStore::entry(log.store(), *i)
                        .unwrap()
                        .unwrap();
                    truce_core::Envelope::from_leaf(&entry.leaf)
                        .unwrap()
                        .statement()
                        .kind
                        == "list_submitted"
                })
                .unwrap()
        })
        .unwrap();
    let uri = format!("/api/entries/{list_entry}");
    let (_, observer) = get(&uri, Some("obs-viewer")).await;
    let observer: serde_json::Value = serde_json::from_str(&observer).unwrap();
    assert_eq!(observer["payload"]["status"], "not visible to this reader");
    assert_eq!(
        observer["envelope"]["signed"]["statement"]["kind"],
        "list_submitted"
    );
    let (_, intermediary) = get(&uri, Some("int-viewer")).await;
    let intermediary: serde_json::Value = serde_json::from_str(&intermediary).unwrap();
    assert!(intermediary["payload"]["persons"].is_array());
    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let proof: Vec<Vec<u8>> = observer["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64)
        .collect();
    let leaf: [u8; 32] = b64(&observer["leaf_hash"]).try_into().unwrap();
    let root: [u8; 32] = b64(&observer["root_hash"]).try_into().unwrap();
    let size = observer["tree_size"].as_u64().unwrap();
    tlog::merkle::verify_inclusion(list_entry, size, &leaf, &proof, &root).unwrap();
    let mut forged = proof.clone();
    forged[0][0] ^= 1;
    assert!(tlog::merkle::verify_inclusion(list_entry, size, &leaf, &forged, &root).is_err());
}

#[tokio::test]
async fn pages_load_nothing_from_elsewhere_and_are_never_framed() {
    let (status, headers, _) = send(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}
