//! Crash points for the tests: where a test can make the controller
//! "crash" inside a protocol (the reconcile stops there as if the process
//! died, and the controller does nothing more). Compiled only for the tests
//! (feature `test-hooks`, which the package's tests and examples turn on
//! through their dev-dependency on it); a release build of the operator
//! has neither the points nor their names. Call sites use `crash_point!`,
//! which expands to nothing without the feature.

#[cfg(any(test, feature = "test-hooks"))]
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(any(test, feature = "test-hooks"))]
use super::error::Error;

/// Where a test stops the controller.
#[cfg(any(test, feature = "test-hooks"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CrashPoint {
    #[default]
    Never,
    /// After the intent is recorded, before the start call is sent.
    AfterIntent,
    /// After an action rerun's intent is recorded, before the rerun call.
    AfterRerunIntent,
    /// After ImmyBot answered, before the session ids are recorded.
    AfterStart,
    /// After a MaintenanceSchedule's run was created, before its
    /// `lastScheduleTime` is recorded.
    AfterRunCreated,
    /// `AfterStart`, but only at the start of attempt N (a rollout's later
    /// wave: the crash comes mid-rollout).
    AfterStartOfAttempt(i32),
}

/// The crash point a test chose, and whether it was hit.
#[cfg(any(test, feature = "test-hooks"))]
#[derive(Default)]
pub struct CrashHooks {
    pub point: CrashPoint,
    crashed: AtomicBool,
}

#[cfg(any(test, feature = "test-hooks"))]
impl CrashHooks {
    pub fn at(point: CrashPoint) -> Self {
        Self {
            point,
            crashed: AtomicBool::new(false),
        }
    }

    /// Hits `at` if it is the chosen point (for attempt `attempt`, where a
    /// point names one): the reconcile stops with an error.
    pub fn reached(&self, at: CrashPoint, attempt: Option<i32>, what: &'static str) -> Result<(), Error> {
        let hit = at != CrashPoint::Never
            && (self.point == at
                || (at == CrashPoint::AfterStart
                    && attempt.is_some_and(|n| self.point == CrashPoint::AfterStartOfAttempt(n))));
        if hit {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(Error::SimulatedCrash(what));
        }
        Ok(())
    }

    /// Whether a crash point was hit (the "process" is dead).
    pub fn is_crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }
}

/// `crash_point!(ctx, AfterIntent, "why")` (or with `attempt = n`): returns
/// the simulated crash from the enclosing function when the test chose this
/// point; nothing at all in a build without test hooks.
#[macro_export]
#[doc(hidden)]
macro_rules! crash_point {
    ($ctx:expr, $point:ident, $what:literal) => {
        #[cfg(any(test, feature = "test-hooks"))]
        $ctx.crash
            .reached($crate::controller::CrashPoint::$point, None, $what)?;
    };
    ($ctx:expr, $point:ident, attempt = $n:expr, $what:literal) => {
        #[cfg(any(test, feature = "test-hooks"))]
        $ctx.crash
            .reached($crate::controller::CrashPoint::$point, Some($n), $what)?;
    };
}
