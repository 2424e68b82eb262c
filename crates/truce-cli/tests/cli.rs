//! The `truce` binary as a user runs it: exit codes, what it prints, and
//! what it must never print.

use std::path::Path;
use std::process::{Command, Output};

fn truce(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .output()
        .expect("truce runs")
}

fn ok(args: &[&str]) -> String {
    let out = truce(args);
    assert!(
        out.status.success(),
        "truce {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The body of a GET that must succeed.
fn get_text(url: &str) -> String {
    ureq::get(url).call().unwrap().into_string().unwrap()
}

/// `truce token add`: a new API token of `actor` with `roles`.
fn add_token(data: &Path, actor: &str, roles: &str) -> String {
    ok(&[
        "token",
        "add",
        "--data",
        path(data),
        "--actor",
        actor,
        "--roles",
        roles,
    ])
    .trim()
    .to_owned()
}

#[test]
fn a_party_technician_checks_the_log_offline() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let keys = temp.path().join("keys");
    let init = ok(&["init", "--data", path(&data), "--origin", "truce.test/cli"]);
    let vkey = init
        .lines()
        .find(|l| l.trim().starts_with("truce.test/cli+"))
        .unwrap()
        .trim()
        .to_owned();
    let ua_vkey = ok(&[
        "keygen",
        "--name",
        "truce.test/ua",
        "--out",
        path(&keys.join("ua.key")),
    ]);
    ok(&[
        "actor",
        "register",
        "--data",
        path(&data),
        "--id",
        "ua",
        "--role",
        "party",
        "--name",
        "Ukraine",
        "--vkey",
        ua_vkey.trim(),
    ]);
    let remark = ok(&[
        "remark",
        "--data",
        path(&data),
        "--as",
        "ua",
        "--key",
        path(&keys.join("ua.key")),
        "--subject",
        "s",
        "--text",
        "t",
        "--visibility",
        "party:ua",
    ]);
    assert!(remark.contains("entry 2"), "{remark}");
    ok(&[
        "remark",
        "--data",
        path(&data),
        "--subject",
        "minutes",
        "--text",
        "m",
        "--visibility",
        "intermediary",
    ]);
    let verified = ok(&["verify", "--data", path(&data), "--vkey", &vkey]);
    assert!(verified.contains("entries      4"), "{verified}");

    // An inclusion proof, checked with nothing but the verifier key.
    let proof = ok(&["log", "prove", "--data", path(&data), "2"]);
    assert!(proof.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let proof_file = temp.path().join("entry2.tlog-proof");
    std::fs::write(&proof_file, &proof).unwrap();
    let checked = ok(&["log", "verify-proof", "--vkey", &vkey, path(&proof_file)]);
    assert!(
        checked.starts_with("OK: entry 2 (remark_recorded by ua"),
        "{checked}"
    );
    let tampered = proof.replacen("index 2", "index 1", 1);
    std::fs::write(&proof_file, tampered).unwrap();
    assert_eq!(
        truce(&["log", "verify-proof", "--vkey", &vkey, path(&proof_file)])
            .status
            .code(),
        Some(1)
    );

    // A consistency proof between two signed checkpoints.
    let old = temp.path().join("old");
    let new = temp.path().join("new");
    let consistency = temp.path().join("consistency");
    std::fs::write(
        &old,
        ok(&["log", "checkpoint", "--data", path(&data), "--size", "2"]),
    )
    .unwrap();
    std::fs::write(&new, ok(&["log", "checkpoint", "--data", path(&data)])).unwrap();
    std::fs::write(
        &consistency,
        ok(&[
            "log",
            "consistency",
            "--data",
            path(&data),
            "--old",
            "2",
            "--new",
            "4",
        ]),
    )
    .unwrap();
    let extends = ok(&[
        "log",
        "verify-consistency",
        "--vkey",
        &vkey,
        "--old-checkpoint",
        path(&old),
        "--new-checkpoint",
        path(&new),
        "--proof",
        path(&consistency),
    ]);
    assert!(
        extends.contains("size 4 extends the one at size 2"),
        "{extends}"
    );

    // The party's copy withholds the intermediary's minutes and verifies.
    let copy = temp.path().join("ua-copy");
    ok(&[
        "log",
        "export-copy",
        "--data",
        path(&data),
        "--for",
        "ua",
        "--out",
        path(&copy),
    ]);
    let copy_report = ok(&["verify", "--data", path(&copy), "--vkey", &vkey]);
    assert!(
        copy_report.contains("3 present, 1 withheld, 0 erased"),
        "{copy_report}"
    );
    let entry = ok(&["log", "entry", "--data", path(&copy), "3"]);
    assert!(
        entry.contains("(withheld from this copy)") && !entry.contains("minutes"),
        "{entry}"
    );
}

#[test]
fn verify_exits_1_and_names_the_entry_when_the_store_was_changed() {
    let temp = tempfile::tempdir().unwrap();
    for plain in [true, false] {
        let data = temp.path().join(format!("data-{plain}"));
        let mut init = vec!["init", "--data", path(&data), "--origin", "truce.test/cli"];
        if plain {
            init.push("--plain-at-rest");
        }
        ok(&init);
        for i in 0..3 {
            ok(&[
                "remark",
                "--data",
                path(&data),
                "--subject",
                "s",
                "--text",
                &format!("remark {i}"),
            ]);
        }
        let conn = rusqlite::Connection::open(data.join("truce.db")).unwrap();
        // In the clear, a changed payload; encrypted, a changed ciphertext.
        let change = if plain {
            "UPDATE payloads SET bytes = CAST(REPLACE(CAST(bytes AS TEXT), 'remark 1', 'remark 9') AS BLOB) WHERE entry_index = 2"
        } else {
            "UPDATE payloads SET bytes = CAST(CASE WHEN substr(bytes, 1, 1) = X'00' THEN X'01' ELSE X'00' END || substr(bytes, 2) AS BLOB) WHERE entry_index = 2"
        };
        assert_eq!(conn.execute(change, []).unwrap(), 1);
        drop(conn);
        let out = truce(&["verify", "--data", path(&data)]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let named = if plain {
            "entry 2: payload does not match its hash"
        } else {
            "entry 2: its payload does not decrypt under the store key"
        };
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[test]
fn bad_input_exits_2_with_a_clear_message_and_secrets_are_never_printed() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let init = truce(&["init", "--data", path(&data), "--origin", "has spaces"]);
    assert_eq!(init.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&init.stderr).contains("--origin"));
    assert!(!data.exists(), "a failed init leaves nothing behind");
    let init = ok(&["init", "--data", path(&data), "--origin", "truce.test/cli"]);
    // A directory without a log is bad input to every command, not a
    // corrupt store: exit 2, naming the directory.
    let nowhere = temp.path().join("nowhere");
    let nowhere = path(&nowhere);
    for command in [
        &["verify", "--data", nowhere][..],
        &["actor", "list", "--data", nowhere],
        &["claims", "--data", nowhere],
        &["log", "checkpoint", "--data", nowhere],
        &["log", "export-tiles", "--data", nowhere, "--out", nowhere],
        &["remark", "--data", nowhere, "--subject", "s", "--text", "t"],
        &["exchange", "lists", "--data", nowhere],
        &["user", "list", "--data", nowhere],
    ] {
        let missing = truce(command);
        let stderr = String::from_utf8_lossy(&missing.stderr);
        assert_eq!(missing.status.code(), Some(2), "{command:?}: {stderr}");
        assert_eq!(
            stderr.trim(),
            format!("error: no log at {nowhere}"),
            "{command:?}"
        );
    }
    assert!(!temp.path().join("nowhere").exists(), "nothing was created");
    let wrong_visibility = truce(&[
        "remark",
        "--data",
        path(&data),
        "--subject",
        "s",
        "--text",
        "t",
        "--visibility",
        "friends",
    ]);
    assert_eq!(wrong_visibility.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_visibility.stderr).contains("--visibility"));
    let unknown_actor = truce(&[
        "remark",
        "--data",
        path(&data),
        "--as",
        "ru",
        "--subject",
        "s",
        "--text",
        "t",
    ]);
    assert_eq!(unknown_actor.status.code(), Some(2));
    // No output ever contains a secret key.
    for secret in ["log.key", "intermediary.key"] {
        let text = std::fs::read_to_string(data.join("keys").join(secret)).unwrap();
        // PRIVATE+KEY+name+id+material: the material may itself hold '+'.
        let material = text.trim().splitn(5, '+').nth(4).unwrap().to_owned();
        assert!(material.len() > 40);
        assert!(!init.contains(&material));
        let listing = ok(&["actor", "list", "--data", path(&data)]);
        assert!(!listing.contains(&material));
    }
}

#[test]
fn an_exchange_stage_goes_from_plan_to_confirmed_receipts_from_the_cli() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("istanbul");
    ok(&["scenario", "load", "istanbul-2025", "--data", path(&data)]);
    let d = path(&data);
    let key = |party: &str| {
        data.join("keys")
            .join(format!("{party}.key"))
            .display()
            .to_string()
    };
    let term = "joint-exchange-2025-06-02#prisoners";
    let planned = ok(&[
        "exchange",
        "plan",
        "--data",
        d,
        "--term",
        term,
        "--stage-id",
        "s-extra",
        "--date",
        "2025-08-01",
        "--place",
        "border",
        "--per-side",
        "2",
        "--propose",
    ]);
    assert!(
        planned.contains("ua hands over 2 persons")
            && planned.contains("stage proposed and its batches listed"),
        "{planned}"
    );
    // Not carried out before both parties accepted it.
    assert_eq!(
        truce(&["exchange", "handover", "--data", d, "--stage-id", "s-extra"])
            .status
            .code(),
        Some(2)
    );
    for party in ["ua", "ru"] {
        ok(&[
            "exchange",
            "accept",
            "--data",
            d,
            "--as",
            party,
            "--key",
            &key(party),
            "--stage-id",
            "s-extra",
        ]);
    }
    ok(&["exchange", "handover", "--data", d, "--stage-id", "s-extra"]);
    for party in ["ua", "ru"] {
        ok(&[
            "exchange",
            "receipt",
            "--data",
            d,
            "--as",
            party,
            "--key",
            &key(party),
            "--stage-id",
            "s-extra",
            "--received",
            "2",
        ]);
    }
    let progress: serde_json::Value = serde_json::from_str(&ok(&[
        "exchange", "progress", "--data", d, "--term", term, "--json",
    ]))
    .unwrap();
    let stage = progress["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage_id"] == "s-extra")
        .unwrap();
    assert_eq!(stage["status"], "confirmed");
    assert_eq!(stage["handed_over"], serde_json::json!([2, 2]));
    let verified = ok(&["verify", "--data", d]);
    assert!(verified.contains("OK:"), "{verified}");

    // Who was in the stage: the intermediary knows every reference; ua, on
    // its copy, its own, and ru's persons by the pseudonyms it knows.
    let members = |data: &str| -> Vec<serde_json::Value> {
        let listed = ok(&[
            "exchange",
            "members",
            "--data",
            data,
            "--stage-id",
            "s-extra",
            "--json",
        ]);
        serde_json::from_str(&listed).unwrap()
    };
    let all = members(d);
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|m| m["outcome"] == "handed_over"), "{all:?}");
    assert!(all.iter().all(|m| m["person"].is_string()), "{all:?}");
    let copy = temp.path().join("ua-copy");
    ok(&[
        "log",
        "export-copy",
        "--data",
        d,
        "--for",
        "ua",
        "--out",
        path(&copy),
    ]);
    let seen = members(path(&copy));
    let staged_as: Vec<_> = seen.iter().map(|m| &m["staged_as"]).collect();
    assert_eq!(
        staged_as,
        all.iter().map(|m| &m["staged_as"]).collect::<Vec<_>>()
    );
    for member in &seen {
        let own = member["from"] == "ua";
        assert_eq!(member["person"].is_string(), own, "{member}");
        assert!(
            !member["staged_as"].as_str().unwrap().contains('/'),
            "{member}"
        );
        if !own {
            assert!(!member.to_string().contains("ru-h-"), "{member}");
        }
    }
}

/// A new log of `origin` in DIR/data of a new temporary DIR.
fn new_log(origin: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ok(&["init", "--data", path(&data), "--origin", origin]);
    (temp, data)
}

/// Kills the server when the test ends, however it ends.
struct Serving(std::process::Child);

/// A loopback address with a port nobody listens on.
fn free_loopback_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Waits (up to 30 s: a debug build folding the scenario on a busy
/// machine takes several seconds to listen) until something listens on `addr`.
fn wait_for(addr: &str) {
    for _ in 0..600 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Starts `truce serve` on a free loopback port; returns it and its URL.
fn serve(data: &Path) -> (Serving, String) {
    let addr = free_loopback_addr();
    let server = Serving(
        Command::new(env!("CARGO_BIN_EXE_truce"))
            .args(["serve", "--data", path(data), "--addr", &addr])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&addr);
    (server, format!("http://{addr}"))
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_witness_cosigns_through_the_server_and_alarms_on_a_split_view() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let init = ok(&[
        "init",
        "--data",
        path(&data),
        "--origin",
        "truce.test/witnessed",
    ]);
    let vkey = init
        .lines()
        .find(|l| l.trim().starts_with("truce.test/witnessed+"))
        .unwrap()
        .trim()
        .to_owned();
    let key = temp.path().join("w1.key");
    let witness_vkey = ok(&[
        "keygen",
        "--name",
        "witness.test/w1",
        "--cosigner",
        "--out",
        path(&key),
    ]);
    ok(&[
        "actor",
        "register",
        "--data",
        path(&data),
        "--id",
        "w1",
        "--role",
        "witness",
        "--name",
        "W",
        "--vkey",
        witness_vkey.trim(),
    ]);
    let (_server, server) = serve(&data);
    let state = temp.path().join("w1.state");
    let witness = |state: &Path| {
        truce(&[
            "witness",
            "--server",
            &server,
            "--key",
            path(&key),
            "--log-vkey",
            &vkey,
            "--state",
            path(state),
        ])
    };
    let first = witness(&state);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("held beside checkpoint 2"));
    // Served at once with the checkpoint, as C2SP cosigned notes are.
    let served = get_text(&format!("{server}/checkpoint"));
    assert!(served.contains("\u{2014} witness.test/w1 "), "{served}");
    // Nothing new: a watching witness does not cosign again.
    let again = witness(&state);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already cosigned, nothing new"));
    // Appends through the server record the held cosignatures first.
    let token = add_token(&data, "intermediary", "editor");
    let remark = temp.path().join("remark.json");
    std::fs::write(
        &remark,
        r#"{"kind":"remark_recorded","subject":"s","text":"t"}"#,
    )
    .unwrap();
    let remark_through_server = || {
        ok(&[
            "submit",
            "--server",
            &server,
            "--token",
            &token,
            "--event",
            path(&remark),
        ])
    };
    remark_through_server();
    let second = witness(&state);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    remark_through_server();
    // A watching witness cosigns each new checkpoint as it appears.
    let seen = || std::fs::read_to_string(&state).unwrap();
    let before = seen();
    let watching = Serving(
        Command::new(env!("CARGO_BIN_EXE_truce"))
            .args([
                "witness",
                "--server",
                &server,
                "--key",
                path(&key),
                "--log-vkey",
                &vkey,
            ])
            .args(["--state", path(&state), "--every", "1"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let moved = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        seen() != before
    });
    drop(watching);
    assert!(moved, "the watching witness cosigned the new checkpoint");
    remark_through_server();
    // The three cosignatures are on the log, as entries that verify.
    let report = ok(&["verify", "--data", path(&data), "--vkey", &vkey]);
    assert!(report.contains("3 cosignatures"), "{report}");
    let cosigned = ok(&["log", "checkpoint", "--data", path(&data), "--size", "2"]);
    assert_eq!(
        cosigned
            .lines()
            .filter(|l| l.starts_with('\u{2014}'))
            .count(),
        2,
        "{cosigned}"
    );
    // A witness that saw another tree at an earlier size refuses and alarms.
    let forked = temp.path().join("forked.state");
    std::fs::write(&forked, "3 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let alarm = witness(&forked);
    assert_eq!(alarm.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&alarm.stderr).contains("SPLIT VIEW"));
    // A cosignature by an unregistered key is refused by the log.
    let stranger = temp.path().join("stranger.key");
    ok(&[
        "keygen",
        "--name",
        "witness.test/w1",
        "--cosigner",
        "--out",
        path(&stranger),
    ]);
    let refused = truce(&[
        "witness",
        "--server",
        &server,
        "--key",
        path(&stranger),
        "--log-vkey",
        &vkey,
        "--state",
        path(&temp.path().join("s2")),
    ]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A held cosignature survives a restart of the server: it was
    // acknowledged, so it is served and recorded after the restart too.
    drop(_server);
    ok(&[
        "remark",
        "--data",
        path(&data),
        "--subject",
        "s",
        "--text",
        "t",
    ]);
    let (restarted, again_server) = serve(&data);
    let held = truce(&[
        "witness",
        "--server",
        &again_server,
        "--key",
        path(&key),
        "--log-vkey",
        &vkey,
        "--state",
        path(&state),
    ]);
    assert!(String::from_utf8_lossy(&held.stdout).contains("held beside"));
    let size = get_text(&format!("{again_server}/checkpoint"));
    drop(restarted);
    let (_after, after_restart) = serve(&data);
    let served = get_text(&format!("{after_restart}/checkpoint"));
    assert_eq!(
        served, size,
        "the same checkpoint, with the held cosignature"
    );
    assert!(served.contains("\u{2014} witness.test/w1 "), "{served}");
}

#[test]
fn a_party_signs_on_its_own_machine_and_submits_through_the_server() {
    let (temp, data) = new_log("truce.test/client");
    let key = temp.path().join("ua.key");
    let vkey = ok(&["keygen", "--name", "truce.test/ua", "--out", path(&key)]);
    ok(&[
        "actor",
        "register",
        "--data",
        path(&data),
        "--id",
        "ua",
        "--role",
        "party",
        "--name",
        "Ukraine",
        "--vkey",
        vkey.trim(),
    ]);
    let other = temp.path().join("other.key");
    ok(&[
        "keygen",
        "--name",
        "truce.test/other",
        "--out",
        path(&other),
    ]);
    let token_of = |actor: &str, roles: &str| add_token(&data, actor, roles);
    let (viewer_token, editor_token, intermediary_token) = (
        token_of("ua", "viewer"),
        token_of("ua", "editor"),
        token_of("intermediary", "editor,signer"),
    );
    let (_server, server) = serve(&data);
    let event = temp.path().join("remark.json");
    std::fs::write(
        &event,
        r#"{"kind":"remark_recorded","subject":"stage 3","text":"received as listed"}"#,
    )
    .unwrap();
    let submit = |key: &Path, token: &str| {
        truce(&[
            "submit",
            "--server",
            &server,
            "--token",
            token,
            "--as",
            "ua",
            "--key",
            path(key),
            "--event",
            path(&event),
            "--visibility",
            "party:ua",
        ])
    };
    // A viewer token reads but may not submit; a remark needs an editor.
    let viewer = submit(&key, &viewer_token);
    assert!(String::from_utf8_lossy(&viewer.stderr).contains("refused (403)"));
    let accepted = submit(&key, &editor_token);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(
        String::from_utf8_lossy(&accepted.stdout).contains("entry 2: remark_recorded recorded")
    );
    // Signed with a key the log never registered for ua: refused by the rules.
    let forged = submit(&other, &editor_token);
    assert_eq!(forged.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&forged.stderr).contains("refused (422)"));
    // Another actor's token cannot submit ua's statements.
    let impersonated = submit(&key, &intermediary_token);
    assert!(String::from_utf8_lossy(&impersonated.stderr).contains("refused (403)"));
    // Without a key the server would sign, but ua keeps its own key.
    let unsigned = truce(&[
        "submit",
        "--server",
        &server,
        "--token",
        &editor_token,
        "--event",
        path(&event),
        "--visibility",
        "party:ua",
    ]);
    assert!(
        String::from_utf8_lossy(&unsigned.stderr)
            .contains("refused (409): ua signs its own statements"),
        "{}",
        String::from_utf8_lossy(&unsigned.stderr)
    );
    let entry = ok(&["log", "entry", "--data", path(&data), "2"]);
    assert!(
        entry.contains("actor        ua") && entry.contains("received as listed"),
        "{entry}"
    );
    ok(&["verify", "--data", path(&data)]);
}

/// The recording commands work through a server as well as on a data
/// directory: signed here with `--key`, or by the server with the key the
/// party declared it holds; the party's role decides what it may record.
#[test]
fn recording_commands_work_through_a_server() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ok(&["scenario", "load", "istanbul-2025", "--data", path(&data)]);
    let token = |roles: &str| add_token(&data, "ua", roles);
    let (editor, signer) = (token("editor"), token("signer"));
    let (_server, server) = serve(&data);
    let position = |token: &str| {
        truce(&[
            "position",
            "--server",
            &server,
            "--token",
            token,
            "--as",
            "ua",
            "--term",
            "ru-memorandum-2025-06#ceasefire-options",
            "--stance",
            "rejected",
            "--date",
            "2025-07-01",
            "--note",
            "through the server",
        ])
    };
    // A position is a commitment: the editor may not take it, the signer may.
    let refused = position(&editor);
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert!(refusal.contains("refused (403)"), "{refusal}");
    let taken = position(&signer);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    // A claim is a record of fact: the editor may, signed here with ua's own key.
    let key = data.join("keys/ua.key");
    ok(&[
        "claim",
        "--server",
        &server,
        "--token",
        &editor,
        "--as",
        "ua",
        "--key",
        path(&key),
        "--id",
        "ua-claim-cli",
        "--date",
        "2025-07-02",
        "--measure",
        "prisoners returned",
        "--figure",
        "1000",
        "--source",
        "CLI test",
    ]);
    let positions = ok(&[
        "positions",
        "--data",
        path(&data),
        "--term",
        "ru-memorandum-2025-06#ceasefire-options",
    ]);
    assert!(positions.contains("through the server"), "{positions}");
    let claims = ok(&["claims", "--data", path(&data)]);
    assert!(
        claims
            .lines()
            .any(|l| l.contains("prisoners returned ") && l.contains("2025-07-02")),
        "{claims}"
    );
    // ua's own copy, fetched and verified: its payloads, not ru's lists.
    let copy = temp.path().join("ua-copy");
    let sync = || {
        ok(&[
            "sync",
            "--server",
            &server,
            "--token",
            &editor,
            "--data",
            path(&copy),
        ])
    };
    let synced = sync();
    assert!(
        synced.contains("copy of truce.example/istanbul-2025 for ua"),
        "{synced}"
    );
    let verified = ok(&["verify", "--data", path(&copy)]);
    assert!(
        verified.contains("copy of      ua") && !verified.contains(" 0 withheld"),
        "{verified}"
    );
    // Again after more was recorded: the new copy extends the old one.
    position(&signer);
    let again = sync();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&copy), 0o700, "a copy is its reader's alone");
        assert_eq!(mode(&copy.join("truce.db")), 0o600);
    }
    assert!(
        again.contains("(1 new,") && again.contains("verified"),
        "{again}"
    );
    // ua's list erased beside the running server: the next sync carries
    // the erasure into the copy, with no alarm.
    ok(&[
        "erase",
        "--data",
        path(&data),
        "--entry",
        "36",
        "--legal-basis",
        "erasure request 2026/7",
    ]);
    let erased = sync();
    assert!(erased.contains("verified"), "{erased}");
    let verified = ok(&["verify", "--data", path(&copy)]);
    assert!(verified.contains("1 erased"), "{verified}");
    // The store rekeyed beside the running server: the server goes on
    // reading and appending under the new key, and ua's copy, rebuilt by
    // each sync, keeps ua's own store key.
    let key_of = |dir: &Path| std::fs::read(dir.join("keys/store.key")).unwrap();
    let (copy_key, old_key) = (key_of(&copy), key_of(&data));
    let rekeyed = ok(&["store", "rekey", "--data", path(&data)]);
    assert!(rekeyed.contains("data keys wrapped anew"), "{rekeyed}");
    assert_ne!(key_of(&data), old_key);
    let taken = position(&signer);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let after = sync();
    assert!(after.contains("verified"), "{after}");
    assert_eq!(key_of(&copy), copy_key, "the reader's key stays");
    // Another log under the same name: the pinned key refuses it, the copy stays.
    let other = temp.path().join("other");
    ok(&["scenario", "load", "istanbul-2025", "--data", path(&other)]);
    let other_token = add_token(&other, "ua", "viewer");
    let (_other_server, other_server) = serve(&other);
    let refused = truce(&[
        "sync",
        "--server",
        &other_server,
        "--token",
        &other_token,
        "--data",
        path(&copy),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ALARM"));
    ok(&["verify", "--data", path(&copy)]);
    // An exchange command reads the log to build its event: beside a
    // server it reads the party's own copy, and refuses to guess without one.
    let discrepancy = |copy: Option<&Path>| {
        let mut args = vec![
            "exchange",
            "discrepancy",
            "--server",
            &server,
            "--token",
            &editor,
            "--as",
            "ua",
            "--id",
            "ua-d-cli",
            "--stage-id",
            "pow-stage-1",
            "--kind",
            "other",
            "--count",
            "1",
            "--reason",
            "one person listed twice",
        ];
        if let Some(copy) = copy {
            args.extend(["--data", path(copy)]);
        }
        truce(&args)
    };
    let without_copy = discrepancy(None);
    assert!(
        String::from_utf8_lossy(&without_copy.stderr).contains("give --data COPY"),
        "{}",
        String::from_utf8_lossy(&without_copy.stderr)
    );
    let with_copy = discrepancy(Some(&copy));
    assert!(
        with_copy.status.success(),
        "{}",
        String::from_utf8_lossy(&with_copy.stderr)
    );
    ok(&["verify", "--data", path(&data)]);
}

/// A server that forked the log at the size of a party's copy (the same
/// size, another root) is caught by `truce sync`, and the copy stays.
#[test]
fn sync_alarms_on_a_split_view_at_the_copys_own_size() {
    let (temp, data) = new_log("truce.test/forked");
    let token = add_token(&data, "intermediary", "viewer");
    // The fork: the same log, key and tokens, then another entry each.
    let fork = temp.path().join("fork");
    let copied = Command::new("cp")
        .args(["-a", path(&data), path(&fork)])
        .status()
        .unwrap();
    assert!(copied.success());
    for (dir, text) in [(&data, "seen by the copy"), (&fork, "shown to others")] {
        ok(&[
            "remark",
            "--data",
            path(dir),
            "--subject",
            "s",
            "--text",
            text,
        ]);
    }
    let copy = temp.path().join("copy");
    let sync = |server: &str| {
        truce(&[
            "sync",
            "--server",
            server,
            "--token",
            &token,
            "--data",
            path(&copy),
        ])
    };
    {
        let (_server, server) = serve(&data);
        let first = sync(&server);
        assert!(
            first.status.success(),
            "{}",
            String::from_utf8_lossy(&first.stderr)
        );
        // The same server again: nothing new, no alarm.
        let again = sync(&server);
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    let (_forked, forked) = serve(&fork);
    let alarm = sync(&forked);
    let stderr = String::from_utf8_lossy(&alarm.stderr);
    assert_eq!(alarm.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ALARM: SPLIT VIEW"), "{stderr}");
    let kept = ok(&["log", "checkpoint", "--data", path(&copy)]);
    let (_original, original) = serve(&data);
    assert_eq!(
        kept,
        get_text(&format!("{original}/checkpoint")),
        "the copy is unchanged"
    );
}

/// The README's main command: `truce demo` loads the scenario into a fresh
/// store, serves the dashboard, and prints logins that work.
#[test]
fn the_demo_serves_the_dashboard_with_working_logins() {
    use std::io::BufRead;
    let temp = tempfile::tempdir().unwrap();
    let addr = free_loopback_addr();
    let mut child = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args([
            "demo",
            "--addr",
            &addr,
            "--data",
            path(&temp.path().join("demo")),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Serving(child);
    // Read the banner up to the API line, which follows the logins.
    let mut banner = String::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("API:") {
            break;
        }
    }
    assert!(banner.contains(&format!("open http://{addr}/")), "{banner}");
    let ua = banner
        .lines()
        .find(|l| l.trim_start().starts_with("ua "))
        .unwrap_or_else(|| panic!("no ua login in {banner}"));
    let password = ua.split_whitespace().nth(1).unwrap();
    wait_for(&addr);
    let overview = get_text(&format!("http://{addr}/"));
    assert!(overview.contains("The Istanbul commitments"));
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let login = agent
        .post(&format!("http://{addr}/login"))
        .send_form(&[("user", "ua"), ("password", password)]);
    let response = match login {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(response.status(), 303, "the printed password logs ua in");
    assert!(
        response
            .header("set-cookie")
            .unwrap()
            .starts_with("truce_session=")
    );
    drop(demo);
}

#[test]
fn a_token_revoked_and_a_user_removed_on_the_command_line_stop_working_on_a_running_server() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ok(&["scenario", "load", "istanbul-2025", "--data", path(&data)]);
    let secret = add_token(&data, "ru", "viewer");
    let (_server, server) = serve(&data);
    let lists = |secret: &str| match ureq::get(&format!("{server}/api/lists"))
        .set("authorization", &format!("Bearer {secret}"))
        .call()
    {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(lists(&secret), 200);
    let listed = ok(&["token", "list", "--data", path(&data)]);
    assert!(!listed.contains(&secret), "a secret is shown once only");
    let id = listed
        .lines()
        .find(|line| line.contains(" ru "))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_owned();
    ok(&["token", "revoke", "--data", path(&data), "--id", &id]);
    assert_eq!(lists(&secret), 401, "revoked at once");
    let again = truce(&["token", "revoke", "--data", path(&data), "--id", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("no token {id}")));

    let add = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["user", "add", "--data", path(&data), "--name", "ru-clerk"])
        .args(["--actor", "ru", "--roles", "viewer"])
        .env("TRUCE_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert!(add.status.success());
    let taken = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["user", "add", "--data", path(&data), "--name", "ru-clerk"])
        .args(["--actor", "ua", "--roles", "admin"])
        .env("TRUCE_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert_eq!(
        taken.status.code(),
        Some(2),
        "a name is unique across actors"
    );
    ok(&[
        "user",
        "remove",
        "--data",
        path(&data),
        "--name",
        "ru-clerk",
    ]);
    assert!(!ok(&["user", "list", "--data", path(&data)]).contains("ru-clerk"));
}
