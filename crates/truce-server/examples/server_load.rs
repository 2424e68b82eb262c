//! A bounded load run on loopback (not a test): loads the Istanbul scenario,
//! serves it in-process, and measures requests per second and p99 latency
//! for reads (a reader-scoped progress query) and for appends (client-signed
//! submissions from one client; server-signed events from one and from
//! several clients, which share transactions), each beside a baseline: an
//! axum route that returns a constant on the same server and clients (the
//! framework's ceiling).
//!
//!     cargo run --release -p truce-server --example server_load -- [SECONDS] [CLIENTS]

use std::time::{Duration, Instant};
use truce_core::remarks::RemarkEvent;

use axum::routing::get;

use truce_core::{ActorId, Event, Statement, Visibility};
use truce_server::{Access, AppState, Grant, Role, app};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Runs `clients` threads, each calling `request` until `seconds` pass;
/// returns (requests per second, p50, p99).
fn drive(
    clients: usize,
    seconds: f64,
    request: impl Fn(usize) + Sync,
) -> (f64, Duration, Duration) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let request = &request;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        request(client * 1_000_000 + n);
                        mine.push(sent.elapsed());
                        n += 1;
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    latencies.sort();
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    (
        rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(5.0, |s| s.parse().expect("SECONDS"));
    let clients: usize = args.next().map_or(4, |s| s.parse().expect("CLIENTS"));
    let dir = std::env::temp_dir().join(format!("truce-load-{}", std::process::id()));
    let loaded = truce_ledger::scenario::load("istanbul-2025", &dir).expect("scenario");
    println!(
        "server load: {} entries, {clients} clients, {seconds} s per phase, loopback",
        loaded.entries
    );
    let ua = ActorId::new("ua").unwrap();
    let mut access = Access::open(&dir).expect("access");
    let observer_token = access
        .add_token(
            loaded.ledger.state(),
            Grant::new(ActorId::new("observer").unwrap(), [Role::Viewer]),
            "load: observer",
        )
        .expect("token");
    let ua_token = access
        .add_token(
            loaded.ledger.state(),
            Grant::new(ua.clone(), [Role::Viewer, Role::Editor]),
            "load: ua",
        )
        .expect("token");
    drop(loaded);
    let state = AppState::new(dir.clone(), access, Default::default()).expect("state");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state).route("/baseline", get(|| async { "ok" }));
    runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
    let base = format!("http://{addr}");

    let read = format!("{base}/api/exchanges/progress?term=joint-exchange-2025-06-02%23remains");
    let get_ok = |url: &str, token: Option<&str>| {
        let mut request = ureq::get(url);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        request.call().expect("a 200").into_string().unwrap();
    };
    get_ok(&read, Some(&observer_token)); // fold the observer's state once
    let (baseline_rate, _, baseline_p99) = drive(clients, seconds, |_| {
        get_ok(&format!("{base}/baseline"), None)
    });
    let (read_rate, read_p50, read_p99) =
        drive(clients, seconds, |_| get_ok(&read, Some(&observer_token)));
    println!(
        "reads (observer, exchange progress): {read_rate:.0} req/s, p50 {:.1} ms, p99 {:.1} ms; \
         baseline constant route {baseline_rate:.0} req/s (p99 {:.1} ms); truce/baseline = {:.2}",
        read_p50.as_secs_f64() * 1e3,
        read_p99.as_secs_f64() * 1e3,
        baseline_p99.as_secs_f64() * 1e3,
        read_rate / baseline_rate
    );

    // Appends: ua signs remarks locally; one client, since a party's
    // sequence numbers are its own and must arrive in order.
    let key = truce_ledger::keys::read_key_file(&dir.join("keys").join("ua.key")).unwrap();
    let registry: serde_json::Value = ureq::get(&format!("{base}/api/actors"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let origin = registry["origin"].as_str().unwrap().to_owned();
    let first_seq = registry["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actor"] == "ua")
        .unwrap()["next_seq"]
        .as_u64()
        .unwrap();
    let next = std::sync::atomic::AtomicU64::new(first_seq);
    let submit = |_| {
        let seq = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let event = Event::Remark(RemarkEvent::RemarkRecorded {
            subject: "load".into(),
            text: format!("remark {seq}"),
        });
        let (statement, payload) = Statement::for_event(
            &origin,
            &ua,
            &key,
            seq,
            &event,
            Visibility::Party(ua.clone()),
            0,
            truce_ledger::fresh_salt(),
        );
        let (salt, payload) = payload.split_at(truce_core::envelope::SALT_BYTES);
        let body = serde_json::json!({
            "signed": statement.sign(&key),
            "salt": truce_core::envelope::hex(salt),
            "payload": String::from_utf8(payload.to_vec()).unwrap(),
        });
        ureq::post(&format!("{base}/api/submissions"))
            .set("Authorization", &format!("Bearer {ua_token}"))
            .send_json(body)
            .expect("appended");
    };
    let (append_rate, append_p50, append_p99) = drive(1, seconds, submit);
    let (baseline_one, _, _) = drive(1, seconds, |_| get_ok(&format!("{base}/baseline"), None));
    println!(
        "appends (client-signed, one submitter): {append_rate:.0} req/s, p50 {:.1} ms, p99 {:.1} ms; \
         baseline one client {baseline_one:.0} req/s; truce/baseline = {:.3}",
        append_p50.as_secs_f64() * 1e3,
        append_p99.as_secs_f64() * 1e3,
        append_rate / baseline_one
    );
    // Appends the server signs with ua's key (POST /api/events), from
    // several clients at once: they share transactions (group commit).
    let record = |n| {
        let body = serde_json::json!({
            "event": {"kind": "remark_recorded", "subject": "load", "text": format!("server-signed {n}")},
            "visibility": {"party": "ua"},
        });
        ureq::post(&format!("{base}/api/events"))
            .set("Authorization", &format!("Bearer {ua_token}"))
            .send_json(body)
            .expect("appended");
    };
    let (one_rate, _, one_p99) = drive(1, seconds, record);
    let (many_rate, many_p50, many_p99) = drive(clients, seconds, record);
    println!(
        "appends (server-signed): one client {one_rate:.0} req/s (p99 {:.1} ms); \
         {clients} clients {many_rate:.0} req/s, p50 {:.1} ms, p99 {:.1} ms; \
         baseline {clients} clients {baseline_rate:.0} req/s; truce/baseline = {:.3}",
        one_p99.as_secs_f64() * 1e3,
        many_p50.as_secs_f64() * 1e3,
        many_p99.as_secs_f64() * 1e3,
        many_rate / baseline_rate
    );
    // Claims (server-signed, from several clients): each one adds a row to
    // the derived `claims` table, the mix the negotiation record grows by.
    let claim = |n| {
        let body = serde_json::json!({
            "event": {"kind": "claim_recorded", "claim_id": format!("load-claim-{n}"),
                "claimant": {"kind": "party", "party": "ua"}, "date": "2025-06-20",
                "measure": "bodies handed over to Ukraine", "figure": 6057 + n % 7,
                "term": {"document_id": "joint-exchange-2025-06-02", "term_id": "remains"},
                "source": "load", "note": ""},
            "visibility": "public",
        });
        ureq::post(&format!("{base}/api/events"))
            .set("Authorization", &format!("Bearer {ua_token}"))
            .send_json(body)
            .expect("appended");
    };
    let (claim_rate, claim_p50, claim_p99) = drive(clients, seconds, claim);
    println!(
        "claims (server-signed, derived rows): {clients} clients {claim_rate:.0} req/s, \
         p50 {:.1} ms, p99 {:.1} ms; baseline {clients} clients {baseline_rate:.0} req/s; \
         truce/baseline = {:.3}",
        claim_p50.as_secs_f64() * 1e3,
        claim_p99.as_secs_f64() * 1e3,
        claim_rate / baseline_rate
    );
    let report = truce_ledger::verify_data_dir(&dir, None).expect("the log still verifies");
    println!(
        "after the run the log verifies: {} entries",
        report.tree_size
    );
    std::fs::remove_dir_all(&dir).ok();
}
