//! Verdicts (sdk/ABI.md §2.1), the hook mask (§2) and log levels (§4.1).

use core::fmt;

/// What a hook decides. The values are those of sdk/ABI.md §2.1.
///
/// For [`Reject`](Verdict::Reject) and [`Tempfail`](Verdict::Tempfail) the
/// gateway uses the reply set during the same call with
/// [`Host::set_reply`](crate::Host::set_reply), or a default (`550 5.7.1
/// Rejected by policy`, `451 4.7.1 Try again later`).
/// [`Host::reject`](crate::Host::reject) and
/// [`Host::tempfail`](crate::Host::tempfail) do both in one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on with the next plugin (0).
    Continue,
    /// Skip the rest of the chain for this transaction, later phases too (1).
    Accept,
    /// Permanent failure (5xx) for this command; the chain stops (2).
    Reject,
    /// Temporary failure (4xx) for this command; the chain stops (3).
    Tempfail,
    /// Accept, but do not deliver: an explicit, logged decision (4).
    Discard,
    /// Deliver, marked as quarantined; the chain goes on (5).
    Quarantine,
    /// Any value, passed to the host unchecked. Values outside `0..=5` are a
    /// plugin error (sdk/ABI.md §5): this exists to test the host, not for
    /// filters.
    Raw(i32),
}

impl Verdict {
    /// The ABI value the hook export returns.
    pub const fn to_raw(self) -> i32 {
        match self {
            Verdict::Continue => 0,
            Verdict::Accept => 1,
            Verdict::Reject => 2,
            Verdict::Tempfail => 3,
            Verdict::Discard => 4,
            Verdict::Quarantine => 5,
            Verdict::Raw(v) => v,
        }
    }

    /// The verdict for an ABI value; values outside `0..=5` become
    /// [`Raw`](Verdict::Raw).
    pub const fn from_raw(v: i32) -> Verdict {
        match v {
            0 => Verdict::Continue,
            1 => Verdict::Accept,
            2 => Verdict::Reject,
            3 => Verdict::Tempfail,
            4 => Verdict::Discard,
            5 => Verdict::Quarantine,
            v => Verdict::Raw(v),
        }
    }
}

/// One SMTP phase, and so one hook, in session order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// `sluice_on_connect`: a client connected.
    Connect,
    /// `sluice_on_helo`: HELO or EHLO.
    Helo,
    /// `sluice_on_mail`: MAIL FROM, the start of a transaction.
    Mail,
    /// `sluice_on_rcpt`: RCPT TO, once per recipient.
    Rcpt,
    /// `sluice_on_data`: the message, once per transaction.
    Data,
}

impl Phase {
    /// The name the host uses for the phase (`info("phase")`).
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Helo => "helo",
            Phase::Mail => "mail",
            Phase::Rcpt => "rcpt",
            Phase::Data => "data",
        }
    }
}

/// The set of hooks a plugin implements: the `sluice_hooks` bit mask of
/// sdk/ABI.md §2. The gateway never calls a hook whose bit is clear.
///
/// ```
/// use sluice::Hooks;
/// const HOOKS: Hooks = Hooks::RCPT.with(Hooks::DATA);
/// assert_eq!(HOOKS.bits(), 0b11000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hooks(u32);

impl Hooks {
    /// No hook.
    pub const NONE: Hooks = Hooks(0);
    /// `on_connect` (bit 0).
    pub const CONNECT: Hooks = Hooks(1 << 0);
    /// `on_helo` (bit 1).
    pub const HELO: Hooks = Hooks(1 << 1);
    /// `on_mail` (bit 2).
    pub const MAIL: Hooks = Hooks(1 << 2);
    /// `on_rcpt` (bit 3).
    pub const RCPT: Hooks = Hooks(1 << 3);
    /// `on_data` (bit 4).
    pub const DATA: Hooks = Hooks(1 << 4);
    /// Every hook.
    pub const ALL: Hooks = Hooks(0b11111);

    /// This set plus `other`. A `const fn`, so it works in `const HOOKS`.
    pub const fn with(self, other: Hooks) -> Hooks {
        Hooks(self.0 | other.0)
    }

    /// The hook of one phase.
    pub const fn of(phase: Phase) -> Hooks {
        match phase {
            Phase::Connect => Hooks::CONNECT,
            Phase::Helo => Hooks::HELO,
            Phase::Mail => Hooks::MAIL,
            Phase::Rcpt => Hooks::RCPT,
            Phase::Data => Hooks::DATA,
        }
    }

    /// Whether the set holds the hook of `phase`.
    pub const fn contains(self, phase: Phase) -> bool {
        self.0 & Hooks::of(phase).0 != 0
    }

    /// The bit mask `sluice_hooks` returns.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_set();
        for p in [Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt, Phase::Data] {
            if self.contains(p) {
                l.entry(&p);
            }
        }
        l.finish()
    }
}

/// A log level for [`Host::log`](crate::Host::log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 0.
    Debug = 0,
    /// 1.
    Info = 1,
    /// 2.
    Warn = 2,
    /// 3.
    Error = 3,
}
