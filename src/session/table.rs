//! The registrations (or subscriptions) the session keeps alive.
//!
//! Each one has our stable id, given to the user, and, once the router has accepted it on the
//! current connection, the router's id. The table remembers everything the user still wants
//! across reconnects, including what is being restored when the connection drops again.

use std::collections::HashMap;
use std::sync::Arc;

use crate::protocol::Id;

use super::{Registration, Subscription};

/// What the table needs to know of an entry.
pub(crate) trait Entry {
    fn local_id(&self) -> u64;
    /// False for entries made by a join hook, which the hook makes again itself.
    fn restore(&self) -> bool;
}

impl Entry for Registration {
    fn local_id(&self) -> u64 {
        self.local_id
    }
    fn restore(&self) -> bool {
        self.restore
    }
}

impl Entry for Subscription {
    fn local_id(&self) -> u64 {
        self.local_id
    }
    fn restore(&self) -> bool {
        self.restore
    }
}

pub(crate) struct LiveTable<T> {
    /// Everything the user still wants, by our id.
    wanted: HashMap<u64, Arc<T>>,
    /// What is in place on the current connection, by the router's id.
    by_router: HashMap<Id, Arc<T>>,
    /// Our id → the router's id on the current connection.
    router_ids: HashMap<u64, Id>,
}

impl<T: Entry> LiveTable<T> {
    pub fn new() -> LiveTable<T> {
        LiveTable {
            wanted: HashMap::new(),
            by_router: HashMap::new(),
            router_ids: HashMap::new(),
        }
    }

    /// The router accepted `entry` under `router_id`.
    pub fn install(&mut self, router_id: Id, entry: Arc<T>) {
        self.wanted.insert(entry.local_id(), entry.clone());
        self.router_ids.insert(entry.local_id(), router_id);
        self.by_router.insert(router_id, entry);
    }

    /// The entry the router knows as `router_id`.
    pub fn get(&self, router_id: Id) -> Option<&Arc<T>> {
        self.by_router.get(&router_id)
    }

    /// The router's id for our `local_id`, when it is in place.
    pub fn router_id(&self, local_id: u64) -> Option<Id> {
        self.router_ids.get(&local_id).copied()
    }

    pub fn is_wanted(&self, local_id: u64) -> bool {
        self.wanted.contains_key(&local_id)
    }

    /// The user no longer wants `local_id` (unregistered, or not restorable).
    pub fn forget(&mut self, local_id: u64) -> Option<Arc<T>> {
        if let Some(router_id) = self.router_ids.remove(&local_id) {
            self.by_router.remove(&router_id);
        }
        self.wanted.remove(&local_id)
    }

    /// The router took `router_id` away.
    pub fn revoke(&mut self, router_id: Id) -> Option<Arc<T>> {
        let entry = self.by_router.remove(&router_id)?;
        self.router_ids.remove(&entry.local_id());
        self.wanted.remove(&entry.local_id());
        Some(entry)
    }

    /// The connection is gone: nothing is in place any more. Returns what must be made again
    /// on the next connection; entries of join hooks are dropped, as the hooks redo them.
    pub fn reset_connection(&mut self) -> Vec<Arc<T>> {
        self.by_router.clear();
        self.router_ids.clear();
        self.wanted.retain(|_, entry| entry.restore());
        let mut entries: Vec<_> = self.wanted.values().cloned().collect();
        // In the order the user made them, so that restoring is predictable.
        entries.sort_by_key(|entry| entry.local_id());
        entries
    }
}
