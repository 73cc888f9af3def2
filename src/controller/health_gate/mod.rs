//! The health gate (`spec.rollout.healthGate`): what the fleet's own alarms
//! say before a wave starts and while one runs.
//!
//! - `condition`: Argo Rollouts' conditions over a Prometheus result (pure).
//! - `alertmanager`, `prometheus`: one request each and the parse of its
//!   answer (the parse is pure and unit-tested).
//! - `reader`: the shell's side: credentials from a Secret, a bounded
//!   timeout, a short-lived cache for reads while a wave runs.
//!
//! The machine sees only a [`GateReading`]; the gate's HTTP is not ImmyBot's
//! and never spends ImmyBot's request budget.

pub mod alertmanager;
pub mod condition;
pub mod prometheus;
pub mod reader;

/// What the gate said when it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GateReading {
    /// Nothing fires.
    Clear,
    /// What fires, named (alert names, or the query's condition); at most
    /// ten.
    Firing(Vec<String>),
    /// It could not be read; why, in words that carry no credentials.
    Unreachable(String),
}

/// At most this many names of what fires are kept.
pub const MAX_FIRING_NAMES: usize = 10;

impl GateReading {
    /// Both sources' readings as one: anything firing fires the gate (even
    /// if the other source could not be read); otherwise an unreadable
    /// source makes the gate unreadable.
    pub fn combine(readings: impl IntoIterator<Item = GateReading>) -> GateReading {
        let mut firing: Vec<String> = vec![];
        let mut unreachable: Vec<String> = vec![];
        for r in readings {
            match r {
                GateReading::Clear => {}
                GateReading::Firing(names) => firing.extend(names),
                GateReading::Unreachable(why) => unreachable.push(why),
            }
        }
        if !firing.is_empty() {
            firing.truncate(MAX_FIRING_NAMES);
            GateReading::Firing(firing)
        } else if !unreachable.is_empty() {
            GateReading::Unreachable(unreachable.join("; "))
        } else {
            GateReading::Clear
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_wins_over_unreachable_and_unreachable_over_clear() {
        let unreachable = GateReading::Unreachable("prometheus: connection refused".into());
        assert_eq!(
            GateReading::combine([unreachable.clone(), GateReading::Firing(vec!["A".into()])]),
            GateReading::Firing(vec!["A".into()])
        );
        assert_eq!(
            GateReading::combine([GateReading::Clear, unreachable.clone()]),
            unreachable
        );
        assert_eq!(GateReading::combine([GateReading::Clear]), GateReading::Clear);
    }
}
