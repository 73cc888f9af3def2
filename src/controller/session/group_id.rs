//! The `sessionGroupId` of each start, derived rather than random: UUIDv5 of
//! the object's uid and the attempt number. A controller that restarts after
//! sending a start computes the same id and can find what that start created.

use uuid::Uuid;

/// The UUIDv5 namespace of immybot-operator's session groups (a fixed,
/// arbitrary UUID: changing it would orphan every interrupted start).
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_3c8a_92b4_4e57_a0c1_7d2e_5b94_0f3a);

/// The correlation key sent with a start and echoed on every session it made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionGroupId(pub Uuid);

impl SessionGroupId {
    pub fn for_attempt(object_uid: &str, attempt: i32) -> Self {
        Self(Uuid::new_v5(&NAMESPACE, format!("{object_uid}/{attempt}").as_bytes()))
    }

    /// A plan's detection-only start (`spec.plan`): numbered apart from the
    /// maintenance attempts, so that neither is ever mistaken for the other.
    pub fn for_plan(object_uid: &str, detection: i32) -> Self {
        Self(Uuid::new_v5(
            &NAMESPACE,
            format!("{object_uid}/plan/{detection}").as_bytes(),
        ))
    }
}

impl std::fmt::Display for SessionGroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_uid_and_attempt_give_the_same_id_and_nothing_else_does() {
        let a = SessionGroupId::for_attempt("0b5c-uid", 1);
        assert_eq!(a, SessionGroupId::for_attempt("0b5c-uid", 1));
        assert_ne!(a, SessionGroupId::for_attempt("0b5c-uid", 2));
        assert_ne!(a, SessionGroupId::for_attempt("other-uid", 1));
        assert_eq!(a.0.get_version_num(), 5);
        assert_ne!(a, SessionGroupId::for_plan("0b5c-uid", 1), "a plan is not attempt 1");
    }
}
