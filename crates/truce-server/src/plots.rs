//! Plots as inline SVG, drawn on the server: no charting library, no
//! script, and they print. Each bar that stands for a recorded figure
//! links to the log entry behind it. Classes `p0`/`p1` colour the first and
//! second party of a term.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use maud::{Markup, html};
use truce_core::Envelope;
use truce_core::exchange::{ClaimBeside, ExchangeProgress};
use truce_core::negotiation::{Position, Recorded};

const WIDTH: f64 = 720.0;

fn percent(done: u64, target: u64) -> f64 {
    if target == 0 {
        100.0
    } else {
        (done as f64 * 100.0 / target as f64).min(100.0)
    }
}

/// A horizontal bar: how far `done` has come against `target`.
pub fn progress_bar(label: &str, done: u64, target: u64, class: &str) -> Markup {
    let filled = WIDTH * percent(done, target) / 100.0;
    html! {
        svg width="100%" viewBox=(format!("0 0 {WIDTH} 40")) role="img"
            aria-label=(format!("{label}: {done} of {target}")) {
            text x="0" y="12" { (label) ": " (done) " of " (target) " (" (format!("{:.1}", percent(done, target))) " %)" }
            rect.track x="0" y="18" width=(WIDTH) height="16" rx="3" {}
            rect class=(class) x="0" y="18" width=(format!("{filled:.1}")) height="16" rx="3" {}
        }
    }
}

/// Each claim's figure as a bar beside the record's own count for the
/// same party, so a gap of 3 in 6,060 is seen, not computed.
pub fn claims_chart(claims: &[ClaimBeside], progress: &ExchangeProgress) -> Markup {
    let max = claims
        .iter()
        .flat_map(|c| [c.claim.figure, c.recorded.unwrap_or(0)])
        .max()
        .unwrap_or(0)
        .max(1);
    let label_width = 260.0;
    let scale = (WIDTH - label_width - 70.0) / max as f64;
    let row = 22.0;
    let mut rows = Vec::new();
    for c in claims {
        let party_class = match &c.claim.handed_over_by {
            Some(p) if *p == progress.parties.0 => "p0",
            Some(p) if *p == progress.parties.1 => "p1",
            _ => "claim",
        };
        rows.push((
            format!("{} ({})", c.claim.claimant.label(), c.claim.date),
            c.claim.figure,
            "claim",
        ));
        if let Some(recorded) = c.recorded {
            rows.push(("  on the log".to_owned(), recorded, party_class));
        }
    }
    let height = row * rows.len() as f64 + 6.0;
    html! {
        svg width="100%" viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label="Claims beside the record" {
            @for (i, (label, figure, class)) in rows.iter().enumerate() {
                @let y = i as f64 * row + 4.0;
                text x="0" y=(y + 13.0) { (label) }
                rect class=(*class) x=(label_width) y=(y) width=(format!("{:.1}", *figure as f64 * scale)) height=(row - 6.0) {}
                text x=(format!("{:.1}", label_width + *figure as f64 * scale + 6.0)) y=(y + 13.0) { (figure) }
            }
        }
    }
}

fn day_position(day: NaiveDate, first: NaiveDate, last: NaiveDate, left: f64, right: f64) -> f64 {
    let span = (last - first).num_days().max(1) as f64;
    left + (day - first).num_days() as f64 / span * (right - left)
}

/// Stages on a time axis: the first party's handovers above the axis, the
/// second's below, so parity shows as symmetry. Each bar links to its
/// tally entry.
pub fn stage_timeline(progress: &ExchangeProgress) -> Markup {
    let stages = &progress.stages;
    let (Some(first), Some(last)) = (
        stages.iter().map(|s| s.date).min(),
        stages.iter().map(|s| s.date).max(),
    ) else {
        return html! {};
    };
    let max = stages
        .iter()
        .map(|s| s.handed_over.0.max(s.handed_over.1))
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, right, axis, half) = (40.0, WIDTH - 40.0, 118.0, 90.0);
    let bar = |n: u64| half * n as f64 / max as f64;
    html! {
        svg width="100%" viewBox=(format!("0 0 {WIDTH} 250")) role="img" aria-label="Stages over time" {
            text x="0" y="14" class="p0" { "▲ handed over by " (progress.parties.0) }
            text x="0" y="226" class="p1" { "▼ handed over by " (progress.parties.1) }
            line x1=(left) x2=(right) y1=(axis) y2=(axis) stroke="#5d6776" {}
            @for s in stages {
                @let x = day_position(s.date, first, last, left, right);
                @let href = s.entry.map(|e| format!("/log/{e}")).unwrap_or_else(|| "/exchanges".to_owned());
                a href=(href) {
                    title { (s.stage_id) ", " (s.date) ": " (s.handed_over.0) " / " (s.handed_over.1) }
                    rect.p0 x=(format!("{:.1}", x - 5.0)) y=(format!("{:.1}", axis - bar(s.handed_over.0))) width="10" height=(format!("{:.1}", bar(s.handed_over.0))) {}
                    rect.p1 x=(format!("{:.1}", x - 5.0)) y=(axis) width="10" height=(format!("{:.1}", bar(s.handed_over.1))) {}
                }
            }
            text x=(left) y="246" { (first) }
            text x=(right) y="246" text-anchor="end" { (last) }
        }
    }
}

/// Each party's positions as dots on a time line, one row per party,
/// coloured by stance.
pub fn positions_timeline(positions: &[Recorded<Position>]) -> Markup {
    let (Some(first), Some(last)) = (
        positions.iter().map(|p| p.value.date).min(),
        positions.iter().map(|p| p.value.date).max(),
    ) else {
        return html! {};
    };
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for p in positions {
        let next = rows.len();
        rows.entry(p.value.party.as_str()).or_insert(next);
    }
    let (left, right, row) = (80.0, WIDTH - 20.0, 30.0);
    let height = row * rows.len() as f64 + 30.0;
    let colour = |stance: &str| match stance {
        "accepted" => "#1e8449",
        "rejected" => "#a93226",
        "withdrawn" => "#5d6776",
        _ => "#b9770e",
    };
    html! {
        svg width="100%" viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label="Positions over time" {
            @for (party, i) in &rows {
                text x="0" y=(format!("{:.1}", *i as f64 * row + 24.0)) { (party) }
                line x1=(left) x2=(right) y1=(*i as f64 * row + 20.0) y2=(*i as f64 * row + 20.0) stroke="#d9dee6" {}
            }
            @for p in positions {
                @let x = day_position(p.value.date, first, last, left, right);
                @let y = rows[p.value.party.as_str()] as f64 * row + 20.0;
                a href=(format!("/log/{}", p.entry)) {
                    circle cx=(format!("{x:.1}")) cy=(y) r="6" fill=(colour(p.value.stance.as_str())) {
                        title { (p.value.date) ": " (p.value.party) " " (p.value.stance.as_str()) " " (p.value.term) }
                    }
                }
            }
            text x=(left) y=(height - 4.0) { (first) }
            text x=(right) y=(height - 4.0) text-anchor="end" { (last) }
        }
    }
}

/// A match score from 0 to 1 as a small bar.
pub fn score_bar(score: f64) -> Markup {
    let score = score.clamp(0.0, 1.0);
    html! {
        svg width="110" height="16" role="img" aria-label=(format!("score {score:.3}")) {
            rect.track x="0" y="2" width="60" height="12" {}
            rect class=(if score >= 0.5 { "p0" } else { "claim" }) x="0" y="2" width=(format!("{:.1}", 60.0 * score)) height="12" {}
            text x="66" y="13" { (format!("{score:.3}")) }
        }
    }
}

/// How many of the shown entries are of each kind.
pub fn kinds_chart(entries: &[Envelope]) -> Markup {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for e in entries {
        *counts.entry(e.statement().kind.as_str()).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(1) as f64;
    let row = 20.0;
    let height = row * counts.len() as f64 + 4.0;
    html! {
        svg width="100%" viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label="Entries per kind" {
            @for (i, (kind, n)) in counts.iter().enumerate() {
                @let y = i as f64 * row + 2.0;
                text x="0" y=(y + 13.0) { (kind) }
                rect.p0 x="200" y=(y) width=(format!("{:.1}", *n as f64 / max * 440.0)) height=(row - 5.0) {}
                text x=(format!("{:.1}", 206.0 + *n as f64 / max * 440.0)) y=(y + 13.0) { (n) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_never_overflows_its_track() {
        assert_eq!(percent(7000, 6000), 100.0);
        assert_eq!(percent(0, 0), 100.0);
        assert_eq!(percent(3000, 6000), 50.0);
        let svg = progress_bar("x", 9, 3, "p0").into_string();
        assert!(svg.contains(&format!("width=\"{WIDTH:.1}\"")), "{svg}");
    }
}
