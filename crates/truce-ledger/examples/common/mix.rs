//! The benchmarks' realistic mix of events, shared by the examples that
//! build large logs.

use truce_core::Event;
use truce_core::remarks::RemarkEvent;

/// The `i`th event of the mix: one in four is a claim (a row in a derived
/// table, as ua states it), the rest are remarks.
pub fn event(i: u64) -> Event {
    if i.is_multiple_of(4) {
        serde_json::from_value(serde_json::json!({
            "kind": "claim_recorded", "claim_id": format!("bench-claim-{i}"),
            "claimant": {"kind": "party", "party": "ua"}, "date": "2025-06-20",
            "measure": "bodies handed over to Ukraine", "figure": 6057 + i % 7,
            "term": null, "source": "bench", "note": ""}))
        .expect("a claim event")
    } else {
        Event::Remark(RemarkEvent::RemarkRecorded {
            subject: format!("stage report {i}"),
            text: "Stage handed over at the agreed crossing; both receipts confirmed.".to_owned(),
        })
    }
}
