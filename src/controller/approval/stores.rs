//! Where approvals are read from: the store the one approval watch fills
//! (`watch.rs`), and the MaintenanceSchedules whose standing approvals may
//! cover a run (filled by that kind's watch).

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::api::{ApprovedKind, MaintenanceApproval, MaintenanceSchedule};
use crate::controller::store_slot::StoreSlot;

/// The stores approvals are judged from.
#[derive(Default)]
pub struct Approvals {
    /// Every MaintenanceApproval in scope, as the approval watch keeps them.
    pub approvals: StoreSlot<MaintenanceApproval>,
    /// Which approvals name which object, kept by the same watch: a look-up
    /// reads the few approvals of one object, not the whole store (at
    /// 5,000 approvals the scan was a reconcile's largest cost).
    pub index: ApprovalIndex,
    /// The MaintenanceSchedules, as their controller's watch keeps them (a
    /// run's standing approval is checked against its schedule).
    pub schedules: StoreSlot<MaintenanceSchedule>,
}

impl Approvals {
    /// The approvals in `namespace` that name the `kind` object `name`,
    /// once the store has synced.
    pub fn naming_kind(&self, kind: ApprovedKind, namespace: &str, name: &str) -> Option<Vec<MaintenanceApproval>> {
        let names = self.index.names(kind, namespace, name);
        self.approvals
            .get_all(names.iter().map(|n| ObjectRef::new(n).within(namespace)))
            .map(|found| {
                // The index is written just after the store: an approval
                // deleted in between is gone from the store, and one whose
                // key is not the asked one cannot be (approvals are never
                // edited), but the check costs nothing.
                found
                    .into_iter()
                    .filter(|a| a.spec.kind == kind && a.spec.session_name == name)
                    .collect()
            })
    }
}

/// What an approval is filed under: the kind, namespace and name of the
/// object it names.
type Named = (ApprovedKind, String, String);

/// Approval names by the object they name. Approvals cannot be edited
/// (a CRD rule), so an approval stays under one key for its life.
#[derive(Default)]
pub struct ApprovalIndex {
    live: RwLock<HashMap<Named, BTreeSet<String>>>,
    /// A relist under way: filled by its objects, swapped in at its end.
    relisting: RwLock<Option<HashMap<Named, BTreeSet<String>>>>,
}

fn key(a: &MaintenanceApproval) -> Option<(Named, String)> {
    let ns = a.metadata.namespace.clone()?;
    let name = a.metadata.name.clone()?;
    Some(((a.spec.kind, ns, a.spec.session_name.clone()), name))
}

impl ApprovalIndex {
    /// Follows one event of the approval watch (after the store has).
    pub fn follow(&self, event: &watcher::Event<MaintenanceApproval>) {
        match event {
            watcher::Event::Apply(a) => {
                if let Some((k, n)) = key(a) {
                    write(&self.live).entry(k).or_default().insert(n);
                }
            }
            watcher::Event::Delete(a) => {
                if let Some((k, n)) = key(a) {
                    let mut live = write(&self.live);
                    if let Some(set) = live.get_mut(&k) {
                        set.remove(&n);
                        if set.is_empty() {
                            live.remove(&k);
                        }
                    }
                }
            }
            watcher::Event::Init => *write(&self.relisting) = Some(HashMap::new()),
            watcher::Event::InitApply(a) => {
                if let (Some((k, n)), Some(fresh)) = (key(a), write(&self.relisting).as_mut()) {
                    fresh.entry(k).or_default().insert(n);
                }
            }
            watcher::Event::InitDone => {
                if let Some(fresh) = write(&self.relisting).take() {
                    *write(&self.live) = fresh;
                }
            }
        }
    }

    /// The names of the approvals in `namespace` naming the `kind` object `name`.
    pub fn names(&self, kind: ApprovedKind, namespace: &str, name: &str) -> Vec<String> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        write(&self.live).clear();
        *write(&self.relisting) = None;
    }
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(name: &str, kind: ApprovedKind, of: &str) -> MaintenanceApproval {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"kind": kind.as_str(), "sessionName": of, "sessionUid": "u", "approver": "bob", "digest": "d"},
        }))
        .unwrap()
    }

    #[test]
    fn the_index_follows_applies_deletes_and_relists() {
        let index = ApprovalIndex::default();
        let a = approval("a", ApprovedKind::MaintenanceSession, "s1");
        let b = approval("b", ApprovedKind::MaintenanceSession, "s1");
        let c = approval("c", ApprovedKind::ImmyBotSchedule, "s1");
        for x in [&a, &b, &c] {
            index.follow(&watcher::Event::Apply(x.clone()));
        }
        assert_eq!(index.names(ApprovedKind::MaintenanceSession, "ns", "s1"), ["a", "b"]);
        assert_eq!(index.names(ApprovedKind::ImmyBotSchedule, "ns", "s1"), ["c"]);
        assert!(index.names(ApprovedKind::MaintenanceSession, "other", "s1").is_empty());
        index.follow(&watcher::Event::Delete(a.clone()));
        assert_eq!(index.names(ApprovedKind::MaintenanceSession, "ns", "s1"), ["b"]);
        // A relist replaces everything once it is done, not before.
        index.follow(&watcher::Event::Init);
        index.follow(&watcher::Event::InitApply(a.clone()));
        assert_eq!(index.names(ApprovedKind::MaintenanceSession, "ns", "s1"), ["b"]);
        index.follow(&watcher::Event::InitDone);
        assert_eq!(index.names(ApprovedKind::MaintenanceSession, "ns", "s1"), ["a"]);
        assert!(index.names(ApprovedKind::ImmyBotSchedule, "ns", "s1").is_empty());
    }
}
