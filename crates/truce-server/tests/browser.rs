//! Browser tests: the dashboard in Debian's chromium (headless), driven by
//! playwright-core from npm (`tests/browser/dashboard.mjs`). `.ci/run`
//! installs both; elsewhere run `crates/truce-server/tests/browser/setup.sh`.
//! Screenshots go to `$CARGO_TARGET_TMPDIR/browser-screenshots`.

use std::path::{Path, PathBuf};
use std::process::Command;

use truce_core::ActorId;
use truce_server::{Access, AppState, Grant, Role, app};

const PASSWORD: &str = "demo password for the browser";

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

#[test]
fn each_role_sees_what_it_may_in_a_real_browser() {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let missing: Vec<String> = [
        (chromium(), "chromium (apt-get install chromium)"),
        (
            scripts.join("node_modules/playwright-core"),
            "playwright-core (npm ci in crates/truce-server/tests/browser)",
        ),
    ]
    .into_iter()
    .filter(|(path, _)| !path.exists())
    .map(|(_, what)| what.to_owned())
    .collect();
    if !missing.is_empty() {
        // Never a silent pass: skipping must be asked for.
        assert!(
            std::env::var_os("TRUCE_SKIP_BROWSER_TESTS").is_some(),
            "the browser tests need {}; run crates/truce-server/tests/browser/setup.sh \
             (or set TRUCE_SKIP_BROWSER_TESTS=1 to skip them knowingly)",
            missing.join(" and ")
        );
        eprintln!("SKIPPED: browser tests ({} missing)", missing.join(", "));
        return;
    }

    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let loaded = truce_ledger::scenario::load("istanbul-2025", &dir).unwrap();
    let mut access = Access::open(&dir).unwrap();
    for (user, actor, roles) in [
        ("intermediary", "intermediary", &Role::ALL[..]),
        ("ua", "ua", &Role::ALL[..]),
        ("ru-viewer", "ru", &[Role::Viewer][..]),
        ("observer", "observer", &[Role::Viewer][..]),
    ] {
        let grant = Grant::new(ActorId::new(actor).unwrap(), roles.iter().copied());
        access
            .set_user(loaded.ledger.state(), user, grant, PASSWORD)
            .unwrap();
    }
    access.save().unwrap();
    let state =
        AppState::with_ledger(dir.clone(), loaded.ledger, access, Default::default()).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app(state)).await.unwrap() });

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    // Only this run's pictures, so a stale FAILED-*.png cannot mislead.
    let _ = std::fs::remove_dir_all(&screenshots);
    let output = Command::new("node")
        .arg(scripts.join("dashboard.mjs"))
        .env("TRUCE_URL", format!("http://{addr}"))
        .env("TRUCE_PASSWORD", PASSWORD)
        .env("TRUCE_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium())
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}\nscreenshots: {}", screenshots.display());
    assert!(output.status.success(), "{report}");
}
