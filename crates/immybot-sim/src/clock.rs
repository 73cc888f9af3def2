//! The simulator's clock: real time sped up by a factor (demos), or a manual
//! clock that moves only when a test says so (deterministic tests).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;

#[derive(Debug)]
pub struct SimClock {
    mode: Mutex<Mode>,
}

#[derive(Debug)]
enum Mode {
    Real {
        started: Instant,
        origin: Timestamp,
        speed: f64,
        offset: Duration,
    },
    Manual {
        now: Timestamp,
    },
}

impl SimClock {
    /// Real time multiplied by `speed` (1.0 = wall clock).
    pub fn real(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        Self {
            mode: Mutex::new(Mode::Real {
                started: Instant::now(),
                origin: Timestamp::now(),
                speed,
                offset: Duration::ZERO,
            }),
        }
    }

    /// A clock that stands still until [`SimClock::advance`].
    pub fn manual(start: Timestamp) -> Self {
        Self {
            mode: Mutex::new(Mode::Manual { now: start }),
        }
    }

    pub fn now(&self) -> Timestamp {
        let Ok(mode) = self.mode.lock() else {
            return Timestamp::now();
        };
        match &*mode {
            Mode::Real {
                started,
                origin,
                speed,
                offset,
            } => {
                let elapsed = started.elapsed().mul_f64(*speed) + *offset;
                origin.checked_add(elapsed).unwrap_or(*origin)
            }
            Mode::Manual { now } => *now,
        }
    }

    /// Moves the clock forward; on a real clock this skips ahead.
    pub fn advance(&self, by: Duration) {
        let Ok(mut mode) = self.mode.lock() else {
            return;
        };
        match &mut *mode {
            Mode::Real { offset, .. } => *offset += by,
            Mode::Manual { now } => *now = now.checked_add(by).unwrap_or(*now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = SimClock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), "2026-01-01T00:01:30Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn real_clock_can_skip_ahead() {
        let clock = SimClock::real(1.0);
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now().duration_since(before).as_secs() >= 3600);
    }
}
