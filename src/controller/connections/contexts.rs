//! A kind's contexts, one per connection in use: each with the
//! connection's client and the kind's own state for that instance (its
//! caches speak of that instance's ids only).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::key::ConnectionKey;
use super::registry::LiveConnection;
use crate::controller::context::{Context, KindContext};

/// A context and the client it was made with.
type Made<S> = (Arc<LiveConnection>, Arc<KindContext<S>>);

pub struct PerConnection<S> {
    pub shared: Arc<Context>,
    contexts: Mutex<HashMap<ConnectionKey, Made<S>>>,
    make_state: Box<dyn Fn() -> S + Send + Sync>,
}

impl<S> PerConnection<S> {
    pub fn new(shared: Arc<Context>, make_state: impl Fn() -> S + Send + Sync + 'static) -> Self {
        Self {
            shared,
            contexts: Mutex::new(HashMap::new()),
            make_state: Box::new(make_state),
        }
    }

    /// The context of `live`, and whether it was made now: on first use,
    /// and again when the connection got a new client (new settings; a
    /// rotated secret keeps the client).
    pub fn context_for(&self, live: &Arc<LiveConnection>) -> (Arc<KindContext<S>>, bool) {
        let mut map = self.contexts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((known, ctx)) = map.get(&live.key)
            && Arc::ptr_eq(known, live)
        {
            return (ctx.clone(), false);
        }
        let ctx = Arc::new(KindContext::new(
            Arc::new(self.shared.through(live)),
            (self.make_state)(),
        ));
        map.insert(live.key.clone(), (live.clone(), ctx.clone()));
        (ctx, true)
    }
}
