//! Remarks: free text on the record (the intermediary's minutes, a party's
//! comment). A domain with no state and no derived table of its own.

use crate::domain::{Context, Domain, Refusal};
use crate::envelope::Visibility;
use crate::projection::{RowJournal, Table};
use crate::rejection;
use crate::state::LogState;

pub const MAX_SUBJECT_BYTES: usize = 200;
pub const MAX_REMARK_BYTES: usize = 100_000;

crate::domain_events! {
    /// The remarks' one event.
    pub enum RemarkEvent {
        /// A free-text remark on the record (e.g. the intermediary's minutes).
        "remark_recorded" => RemarkRecorded { subject: String, text: String },
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Remarks;

impl Domain for Remarks {
    type Event = RemarkEvent;

    fn check(&self, _context: &Context, event: &RemarkEvent) -> Result<(), Refusal> {
        let RemarkEvent::RemarkRecorded { subject, text } = event;
        if subject.trim().is_empty()
            || subject.len() > MAX_SUBJECT_BYTES
            || text.len() > MAX_REMARK_BYTES
        {
            return Err(Refusal::Rule(rejection!(
                "remark-size",
                "a remark has a subject of 1-200 characters and at most 100,000 of text"
            )));
        }
        Ok(())
    }

    fn apply(&mut self, _entry: u64, _event: &RemarkEvent, _rows: &mut RowJournal) {}

    /// Public unless the recorder chooses a narrower visibility.
    fn visibility(&self, _log: &LogState, _event: &RemarkEvent) -> Visibility {
        Visibility::Public
    }

    fn derived_tables(&self) -> Vec<Table> {
        Vec::new()
    }
}
