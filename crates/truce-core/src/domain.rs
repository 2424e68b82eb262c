//! What a domain is, and the one list of the log's domains.
//!
//! A domain (the registry, remarks, the negotiation record, exchanges, ...)
//! owns its events, the rules that decide whether one may come next
//! (`check`), its fold (`apply`), the derived rows it declares and the
//! queries over its state. The core ([`crate::state::LogState`]) checks
//! what every entry shares (index, times, sequence, signer, visibility) and
//! dispatches the payload to the domain that owns its kind.
//!
//! Adding a domain: write its module (events with [`domain_events!`], a
//! state implementing [`Domain`]), then add its line to
//! [`register_domains!`] at the bottom of this file. No other domain's code
//! changes.

use crate::envelope::{ActorId, Visibility};
use crate::projection::{RowJournal, Table};
use crate::state::{LogState, Rejection};

/// The events of one domain: tagged by `kind` in their payload.
pub trait DomainEvent {
    /// Every kind of this domain, as its payloads spell it.
    const KINDS: &'static [&'static str];
    fn kind(&self) -> &'static str;
}

/// Who signs an event, as the log's registry knows them.
#[derive(Debug, Clone, Copy)]
pub struct SignerView<'a> {
    pub id: &'a ActorId,
    pub is_intermediary: bool,
    pub is_party: bool,
}

/// What a domain's rule may look at besides its own state: the signer, the
/// entry's visibility, and the rest of the log (the registry, other
/// domains' states) as it stands before the entry.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub signer: SignerView<'a>,
    pub visibility: &'a Visibility,
    pub log: &'a LogState,
}

/// Why a domain refuses an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The event breaks a rule.
    Rule(Rejection),
    /// The event refers to a record this reader does not hold (withheld or
    /// erased): a partial reader skips the rule instead of failing it, so
    /// reader copies replay.
    MissingReference(Rejection),
}

impl Refusal {
    pub fn into_rejection(self) -> Rejection {
        match self {
            Refusal::Rule(r) | Refusal::MissingReference(r) => r,
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Refusal::Rule(rejection)
    }
}

/// A domain's state: a fold over the entries whose payloads it owns.
pub trait Domain: std::fmt::Debug + Clone + Default {
    type Event: DomainEvent;

    /// Whether `event` may come next. Never mutates.
    fn check(&self, context: &Context, event: &Self::Event) -> Result<(), Refusal>;

    /// Folds in an event that passed `check` at `entry`; records the rows of
    /// its derived tables that changed in `rows`. Never fails.
    fn apply(&mut self, entry: u64, event: &Self::Event, rows: &mut RowJournal);

    /// Notes an entry of this domain's `kind`, signed by `actor`, whose
    /// payload this reader lacks (withheld, or erased): a rule may need to
    /// know that something it cannot see is there.
    fn apply_unseen(&mut self, _entry: u64, _kind: &str, _actor: &ActorId) {}

    /// The visibility `event` is recorded with: the one its rules require
    /// (a list: its party alone; a stage: its two parties) or, where the
    /// recorder may choose, the usual one. Every edge (CLI, API, dashboard)
    /// asks here, so no edge works it out on its own.
    fn visibility(&self, log: &LogState, event: &Self::Event) -> Visibility;

    /// Every derived table of the domain, whole, from its state alone.
    fn derived_tables(&self) -> Vec<Table>;
}

/// Declares a domain's events: an enum tagged by `kind` (each variant names
/// the kind its payload carries) and its [`DomainEvent`] impl.
#[macro_export]
macro_rules! domain_events {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $kind:literal => $variant:ident $body:tt, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind", deny_unknown_fields)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $kind)] $variant $body, )*
        }

        impl $crate::domain::DomainEvent for $name {
            const KINDS: &'static [&'static str] = &[$($kind),*];

            fn kind(&self) -> &'static str {
                match self {
                    $( Self::$variant { .. } => $kind, )*
                }
            }
        }
    };
}

/// The one list of the log's domains. Generates [`crate::event::Event`]
/// (one variant per domain, its payload exactly the domain event's) and
/// `Domains`, which holds each domain's state and dispatches to it.
macro_rules! register_domains {
    ( $( $variant:ident($event:ty) => $field:ident: $state:ty, )* ) => {
        /// A log entry's payload: the event of the domain that owns its kind.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Event {
            $( $variant($event), )*
        }

        $(
            impl From<$event> for Event {
                fn from(event: $event) -> Self {
                    Event::$variant(event)
                }
            }
        )*

        impl Event {
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Event::$variant(event) => event.kind(), )*
                }
            }

            /// Parses JSON text as the event type of the domain that owns
            /// its `kind` (read first, skipping the rest).
            pub(crate) fn from_json(json: &[u8]) -> serde_json::Result<Self> {
                #[derive(serde::Deserialize)]
                struct KindOnly<'a> {
                    #[serde(borrow)]
                    kind: std::borrow::Cow<'a, str>,
                }
                let KindOnly { kind } = serde_json::from_slice(json)?;
                $(
                    if <$event as DomainEvent>::KINDS.contains(&kind.as_ref()) {
                        return serde_json::from_slice(json).map(Event::$variant);
                    }
                )*
                Err(serde::de::Error::unknown_variant(&kind, ALL_KINDS))
            }
        }

        impl<'de> serde::Deserialize<'de> for Event {
            fn deserialize<D: serde::Deserializer<'de>>(payload: D) -> Result<Self, D::Error> {
                // Events only ever arrive as JSON (payloads, API bodies, files).
                let json = Box::<serde_json::value::RawValue>::deserialize(payload)?;
                Event::from_json(json.get().as_bytes()).map_err(serde::de::Error::custom)
            }
        }

        impl serde::Serialize for Event {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Event::$variant(event) => event.serialize(serializer), )*
                }
            }
        }

        /// Every kind of every domain.
        pub const ALL_KINDS: &[&str] = &$crate::domain::concat_kinds::<
            { 0 $( + <$event as DomainEvent>::KINDS.len() )* }
        >(&[$( <$event as DomainEvent>::KINDS ),*]);

        /// Each domain's state.
        #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
        pub struct Domains {
            $( pub(crate) $field: $state, )*
        }

        impl Domains {
            pub(crate) fn check(&self, context: &Context, event: &Event) -> Result<(), Refusal> {
                match event {
                    $( Event::$variant(event) => self.$field.check(context, event), )*
                }
            }

            pub(crate) fn apply(&mut self, entry: u64, event: &Event, rows: &mut RowJournal) {
                match event {
                    $( Event::$variant(event) => self.$field.apply(entry, event, rows), )*
                }
            }

            pub(crate) fn apply_unseen(&mut self, entry: u64, kind: &str, actor: &ActorId) {
                $(
                    if <$event as DomainEvent>::KINDS.contains(&kind) {
                        return self.$field.apply_unseen(entry, kind, actor);
                    }
                )*
            }

            pub(crate) fn visibility(&self, log: &LogState, event: &Event) -> Visibility {
                match event {
                    $( Event::$variant(event) => self.$field.visibility(log, event), )*
                }
            }

            pub(crate) fn derived_tables(&self) -> Vec<Table> {
                let mut tables = Vec::new();
                $( tables.extend(self.$field.derived_tables()); )*
                tables
            }
        }
    };
}

/// Concatenates the domains' kind lists at compile time (for [`ALL_KINDS`]).
pub const fn concat_kinds<const N: usize>(lists: &[&[&'static str]]) -> [&'static str; N] {
    let mut all = [""; N];
    let (mut at, mut list) = (0, 0);
    while list < lists.len() {
        let mut i = 0;
        while i < lists[list].len() {
            all[at] = lists[list][i];
            at += 1;
            i += 1;
        }
        list += 1;
    }
    all
}

register_domains! {
    Registry(crate::registry::RegistryEvent) => registry: crate::registry::Registry,
    Remark(crate::remarks::RemarkEvent) => remarks: crate::remarks::Remarks,
    Negotiation(crate::negotiation::NegotiationEvent) => negotiation: crate::negotiation::NegotiationState,
    Exchange(crate::exchange::ExchangeEvent) => exchange: crate::exchange::ExchangeState,
}
