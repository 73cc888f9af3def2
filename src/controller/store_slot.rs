//! A reflector store one watch fills and other reconciles read, for the
//! lifetime of one leadership term.

/// A reflector store one controller's watch fills and other reconciles
/// read: no LIST per reconcile. Until it has synced (just after start),
/// `None`: the caller reads the API server once instead.
pub struct StoreSlot<K: kube::Resource<DynamicType = ()> + 'static> {
    store: std::sync::RwLock<Option<kube::runtime::reflector::Store<K>>>,
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Default for StoreSlot<K> {
    fn default() -> Self {
        Self {
            store: std::sync::RwLock::new(None),
        }
    }
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> StoreSlot<K> {
    /// The store of the run starting now (a new leadership term brings a new
    /// watch and a new store; the old one would go stale).
    pub fn set(&self, store: kube::runtime::reflector::Store<K>) {
        *self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(store);
    }

    /// The run ended: its store is no longer fed.
    pub fn clear(&self) {
        *self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The store, once it has synced. Not waiting: a reconcile before the
    /// first sync reads the API server instead.
    fn synced(&self) -> Option<kube::runtime::reflector::Store<K>> {
        let store = self
            .store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()?;
        futures::FutureExt::now_or_never(store.wait_until_ready())?.ok()?;
        Some(store)
    }

    /// The objects of `refs` that exist, once the store has synced.
    pub fn get_all(&self, refs: impl IntoIterator<Item = kube::runtime::reflector::ObjectRef<K>>) -> Option<Vec<K>> {
        let store = self.synced()?;
        Some(
            refs.into_iter()
                .filter_map(|r| store.get(&r))
                .map(|o| o.as_ref().clone())
                .collect(),
        )
    }

    /// The objects matching `keep`, once the store has synced.
    pub fn select(&self, keep: impl Fn(&K) -> bool) -> Option<Vec<K>> {
        let store = self.synced()?;
        Some(
            store
                .state()
                .iter()
                .filter(|o| keep(o))
                .map(|o| o.as_ref().clone())
                .collect(),
        )
    }
}

/// Waits until `store` has synced; an error when it never will (its writer
/// is gone). Re-polled: kube-runtime's store readiness (a `DelayedInit`)
/// wakes only the last task that waited, and the Controller waits on the
/// same store, so a plain `.await` can sleep forever. Each poll sees the
/// value once it is set.
pub async fn synced<K>(
    store: &kube::runtime::reflector::Store<K>,
) -> Result<(), kube::runtime::reflector::store::WriterDropped>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        if let Ok(ready) = tokio::time::timeout(std::time::Duration::from_millis(250), store.wait_until_ready()).await {
            return ready;
        }
    }
}
