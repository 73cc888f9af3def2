//! When an ImmyBotSchedule's target is counted, and what the count means
//! for its approval. Pure: the shell (`blast_radius_reader`) does the
//! counting.
//!
//! A schedule runs in ImmyBot by itself, again and again, so an approval of
//! a tenant that names a count (the blast radius its approver saw) is held
//! to it for as long as it stands: the tenant is counted before anyone
//! approves, once after each approval, and every hour after that; a tenant
//! that grew past the count is disabled in ImmyBot until someone approves
//! the new count. Fewer computers (or offline ones) need nothing.

use std::time::Duration;

use crate::api::BlastRadius;
use crate::controller::approval::Verdict;
use crate::controller::blast_radius::counted_for;

/// How often a counted approval of a tenant is counted again.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Count {
    /// Count now: for the approver (`None`), or for the approval named.
    Measure { counted_for: Option<String> },
    /// Counted recently enough; `Some` says how the target outgrew its
    /// approval.
    Counted { grew: Option<String> },
}

/// Whether to count the target now, and whether the last count outgrew the
/// approval. `tenant`: the target can grow (a computer cannot).
pub fn count(
    radius: Option<&BlastRadius>,
    digest: &str,
    verdict: &Verdict,
    tenant: bool,
    now: jiff::Timestamp,
) -> Count {
    let measured = radius.filter(|b| b.digest == digest);
    let (limit, this) = match verdict {
        Verdict::NotApproved { .. } => {
            return match measured {
                Some(_) => Count::Counted { grew: None },
                None => Count::Measure { counted_for: None },
            };
        }
        Verdict::Approved {
            computers: Some(limit),
            approved_by,
            source,
            at,
            ..
        } if tenant => (*limit, counted_for(source.as_deref(), approved_by, *at)),
        // Any number, or a target that cannot grow.
        Verdict::Approved { .. } => return Count::Counted { grew: None },
    };
    let fresh = measured.filter(|b| {
        b.counted_for.as_deref() == Some(this.as_str())
            && b.measured_at.0.duration_since(now).unsigned_abs() < RECOUNT_EVERY
    });
    match fresh {
        None => Count::Measure {
            counted_for: Some(this),
        },
        Some(b) => Count::Counted {
            grew: (b.computers > limit).then(|| {
                format!(
                    "the tenant now has {} computers; the approval let {limit}: the schedule is disabled in ImmyBot until someone approves the new count (kubectl immybot approve schedule/NAME)",
                    b.computers
                )
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ApprovalMethod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn approved(computers: Option<i32>) -> Verdict {
        Verdict::Approved {
            approved_by: "bob".into(),
            method: ApprovalMethod::MaintenanceApproval,
            source: Some("nightly-bob".into()),
            comment: None,
            at: Some(t("2026-12-01T10:00:00Z")),
            digest: None,
            computers,
            plan_digest: None,
        }
    }

    fn radius(computers: i32, counted_for: Option<&str>, at: &str) -> BlastRadius {
        BlastRadius {
            digest: "d".into(),
            measured_at: Time(t(at)),
            counted_for: counted_for.map(str::to_owned),
            computers,
            ..Default::default()
        }
    }

    const THIS: &str = "nightly-bob (2026-12-01T10:00:00Z)";

    #[test]
    fn before_approval_a_digest_is_counted_once() {
        let refused = Verdict::NotApproved {
            reason: "NoApproval",
            message: "none".into(),
        };
        let now = t("2026-12-01T09:00:00Z");
        assert_eq!(
            count(None, "d", &refused, true, now),
            Count::Measure { counted_for: None }
        );
        let seen = radius(3, None, "2026-11-01T00:00:00Z");
        assert_eq!(
            count(Some(&seen), "d", &refused, true, now),
            Count::Counted { grew: None }
        );
        // A changed spec is a new digest: counted again.
        assert!(matches!(
            count(Some(&seen), "other", &refused, true, now),
            Count::Measure { .. }
        ));
    }

    #[test]
    fn an_approved_count_is_checked_after_the_approval_and_hourly() {
        let now = t("2026-12-01T10:30:00Z");
        let before = radius(3, None, "2026-12-01T09:00:00Z");
        assert_eq!(
            count(Some(&before), "d", &approved(Some(3)), true, now),
            Count::Measure {
                counted_for: Some(THIS.into())
            }
        );
        let after = radius(3, Some(THIS), "2026-12-01T10:00:05Z");
        assert_eq!(
            count(Some(&after), "d", &approved(Some(3)), true, now),
            Count::Counted { grew: None }
        );
        let grown = radius(53, Some(THIS), "2026-12-01T10:00:05Z");
        match count(Some(&grown), "d", &approved(Some(3)), true, now) {
            Count::Counted { grew: Some(why) } => assert!(why.contains("53 computers"), "{why}"),
            other => panic!("{other:?}"),
        }
        // An hour on, counted again.
        let later = t("2026-12-01T11:00:06Z");
        assert!(matches!(
            count(Some(&after), "d", &approved(Some(3)), true, later),
            Count::Measure { .. }
        ));
    }

    #[test]
    fn no_count_no_recount_and_a_computer_cannot_grow() {
        let now = t("2026-12-01T10:30:00Z");
        assert_eq!(
            count(None, "d", &approved(None), true, now),
            Count::Counted { grew: None }
        );
        assert_eq!(
            count(None, "d", &approved(Some(1)), false, now),
            Count::Counted { grew: None }
        );
    }
}
