//! The access matrix: every route for every reader (the intermediary, each
//! party, the observer, the public, a wrong token), asserting allow or deny,
//! and that no personal record of one party reaches the other party, the
//! observer or the public.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use truce_core::ActorId;
use truce_server::{AppState, Grant, Role, Tokens, app};

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

fn state() -> Arc<AppState> {
    let tokens: Tokens = [
        ("t-int", "intermediary"),
        ("t-ua", "ua"),
        ("t-ru", "ru"),
        ("t-obs", "observer"),
    ]
    .into_iter()
    .map(|(token, actor)| {
        let grant = Grant {
            actor: ActorId::new(actor).unwrap(),
            role: Role::Viewer,
        };
        (token.to_owned(), grant)
    })
    .collect();
    AppState::new(data_dir().clone(), tokens).unwrap()
}

async fn get(state: &Arc<AppState>, uri: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

const READERS: [(&str, Option<&str>); 5] = [
    ("intermediary", Some("t-int")),
    ("ua", Some("t-ua")),
    ("ru", Some("t-ru")),
    ("observer", Some("t-obs")),
    ("public", None),
];

#[tokio::test]
async fn every_route_allows_or_denies_each_reader_as_it_should() {
    let state = state();
    let remains = "/api/exchanges/progress?term=joint-exchange-2025-06-02%23remains";
    let queue = "/api/review-queue?sought=ua-sought-pow&held=ru-held-pow";
    // (route, expected status for intermediary, ua, ru, observer, public)
    let matrix: [(&str, [u16; 5]); 11] = [
        ("/openapi.json", [200; 5]),
        ("/checkpoint", [200; 5]),
        ("/tile/0/000", [200; 5]),
        ("/tile/entries/000", [200; 5]),
        ("/api/rounds", [200; 5]),
        ("/api/terms", [200; 5]),
        ("/api/claims", [200; 5]),
        (remains, [200; 5]),
        ("/api/lists", [200; 5]),
        ("/api/lists/ru-held-pow", [200, 404, 200, 404, 404]),
        (queue, [200, 403, 403, 403, 403]),
    ];
    for (route, expected) in matrix {
        for ((reader, token), want) in READERS.iter().zip(expected) {
            let (status, body) = get(&state, route, *token).await;
            assert_eq!(status.as_u16(), want, "{reader} GET {route}: {body}");
        }
    }
    // A token nobody issued is refused, not read as the public.
    assert_eq!(
        get(&state, "/api/lists", Some("forged")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&state, "/tile/0/0", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn each_reader_sees_its_own_lists_and_everyone_the_same_aggregates() {
    let state = state();
    let expected_lists = [
        ("intermediary", 6),
        ("ua", 3),
        ("ru", 3),
        ("observer", 0),
        ("public", 0),
    ];
    for ((reader, token), (_, lists)) in READERS.iter().zip(expected_lists) {
        let (_, body) = get(&state, "/api/lists", *token).await;
        let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), lists, "{reader}: {body}");
        let (_, body) = get(
            &state,
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
    let state = state();
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
            let (_, body) = get(&state, route, *token).await;
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
    let state = state();
    let (status, body) = get(&state, "/openapi.json", None).await;
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
            "/api/cosignatures",
            "/api/exchanges/progress",
            "/api/lists",
            "/api/lists/{list_id}",
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
