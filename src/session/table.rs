//! The registrations (or subscriptions) the session keeps alive.
//!
//! Each one has our stable id, given to the user, and, once the router has accepted it on the
//! current connection, the router's id. The table remembers everything the user still wants
//! across reconnects, including what is being restored when the connection drops again.
//!
//! Several entries may share one router id: a router answers a second SUBSCRIBE to a topic the
//! session already has with the subscription it has (Crossbar does), so two `subscribe` calls
//! to one topic are two entries under one router subscription. Every entry gets the events,
//! and the router subscription is given up only with the last entry.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

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
    /// What is in place on the current connection, by the router's id, in the order the
    /// router accepted them.
    by_router: HashMap<Id, Vec<Arc<T>>>,
    /// Our id → the router's id on the current connection.
    router_ids: HashMap<u64, Id>,
    /// The first entry under each router id, kept up to date for threads other than the
    /// socket thread (see [`LiveTable::published`]).
    published: Option<Published<T>>,
    /// Publish only router ids that have exactly one entry (see [`LiveTable::published_sole`]).
    sole_only: bool,
}

/// The first entry under each router id of a [`LiveTable`], readable by other threads.
pub(crate) type Published<T> = Arc<RwLock<HashMap<Id, Arc<T>>>>;

impl<T: Entry> LiveTable<T> {
    pub fn new() -> LiveTable<T> {
        LiveTable {
            wanted: HashMap::new(),
            by_router: HashMap::new(),
            router_ids: HashMap::new(),
            published: None,
            sole_only: false,
        }
    }

    /// A table that keeps `published` equal to what [`get`](Self::get)`(id).first()` gives
    /// for every router id, for threads that read the connection themselves.
    pub fn published(published: Published<T>) -> LiveTable<T> {
        published.write().clear();
        LiveTable {
            published: Some(published),
            ..LiveTable::new()
        }
    }

    /// A table that keeps `published` holding the entry of every router id that has one
    /// entry only: what a thread other than the socket thread may handle alone.
    pub fn published_sole(published: Published<T>) -> LiveTable<T> {
        LiveTable {
            sole_only: true,
            ..LiveTable::published(published)
        }
    }

    /// The router accepted `entry` under `router_id` (perhaps beside others it already had
    /// there).
    pub fn install(&mut self, router_id: Id, entry: Arc<T>) {
        let local_id = entry.local_id();
        self.wanted.insert(local_id, entry.clone());
        if let Some(previous) = self.router_ids.insert(local_id, router_id) {
            self.detach(local_id, previous);
        }
        self.by_router.entry(router_id).or_default().push(entry);
        self.publish(router_id);
    }

    /// The entries the router knows as `router_id` (none when it is not ours).
    pub fn get(&self, router_id: Id) -> &[Arc<T>] {
        self.by_router.get(&router_id).map_or(&[], Vec::as_slice)
    }

    /// The router's id for our `local_id`, when it is in place.
    pub fn router_id(&self, local_id: u64) -> Option<Id> {
        self.router_ids.get(&local_id).copied()
    }

    /// The router's ids of everything in place on this connection.
    pub fn router_ids(&self) -> Vec<Id> {
        self.by_router.keys().copied().collect()
    }

    /// How many of our entries share `router_id`.
    pub fn sharing(&self, router_id: Id) -> usize {
        self.get(router_id).len()
    }

    pub fn is_wanted(&self, local_id: u64) -> bool {
        self.wanted.contains_key(&local_id)
    }

    /// The user no longer wants `local_id` (unregistered, or not restorable).
    pub fn forget(&mut self, local_id: u64) -> Option<Arc<T>> {
        if let Some(router_id) = self.router_ids.remove(&local_id) {
            self.detach(local_id, router_id);
        }
        self.wanted.remove(&local_id)
    }

    /// The router took `router_id` away, from every entry that shared it.
    pub fn revoke(&mut self, router_id: Id) -> Vec<Arc<T>> {
        let entries = self.by_router.remove(&router_id).unwrap_or_default();
        self.publish(router_id);
        for entry in &entries {
            self.router_ids.remove(&entry.local_id());
            self.wanted.remove(&entry.local_id());
        }
        entries
    }

    /// The router no longer has `router_id`, but the entries that were under it are still
    /// wanted: they are returned, to be made again.
    pub fn uninstall(&mut self, router_id: Id) -> Vec<Arc<T>> {
        let entries = self.by_router.remove(&router_id).unwrap_or_default();
        self.publish(router_id);
        for entry in &entries {
            self.router_ids.remove(&entry.local_id());
        }
        entries
    }

    /// The connection is gone: nothing is in place any more. Returns what must be made again
    /// on the next connection; entries of join hooks are dropped, as the hooks redo them.
    pub fn reset_connection(&mut self) -> Vec<Arc<T>> {
        self.by_router.clear();
        if let Some(published) = &self.published {
            published.write().clear();
        }
        self.router_ids.clear();
        self.wanted.retain(|_, entry| entry.restore());
        let mut entries: Vec<_> = self.wanted.values().cloned().collect();
        // In the order the user made them, so that restoring is predictable.
        entries.sort_by_key(|entry| entry.local_id());
        entries
    }

    /// How many entries are wanted, and how many of them are in place on this connection.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        (self.wanted.len(), self.router_ids.len())
    }

    fn detach(&mut self, local_id: u64, router_id: Id) {
        if let Some(entries) = self.by_router.get_mut(&router_id) {
            entries.retain(|entry| entry.local_id() != local_id);
            if entries.is_empty() {
                self.by_router.remove(&router_id);
            }
        }
        self.publish(router_id);
    }

    fn publish(&self, router_id: Id) {
        let Some(published) = &self.published else {
            return;
        };
        let mut published = published.write();
        match self
            .by_router
            .get(&router_id)
            .filter(|entries| !self.sole_only || entries.len() == 1)
            .and_then(|entries| entries.first())
        {
            Some(first) => published.insert(router_id, first.clone()),
            None => published.remove(&router_id),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(u64, bool);

    impl Entry for Item {
        fn local_id(&self) -> u64 {
            self.0
        }
        fn restore(&self) -> bool {
            self.1
        }
    }

    fn ids(entries: &[Arc<Item>]) -> Vec<u64> {
        entries.iter().map(|e| e.0).collect()
    }

    #[test]
    fn entries_sharing_a_router_id_are_all_kept_and_leave_one_by_one() {
        let mut table = LiveTable::new();
        table.install(70, Arc::new(Item(1, true)));
        table.install(70, Arc::new(Item(2, true)));
        table.install(80, Arc::new(Item(3, true)));
        assert_eq!(ids(table.get(70)), [1, 2]);
        assert_eq!(table.sharing(70), 2);

        assert_eq!(table.forget(1).map(|e| e.0), Some(1));
        assert_eq!(ids(table.get(70)), [2]);
        assert_eq!(table.router_id(2), Some(70));
        assert_eq!(table.forget(2).map(|e| e.0), Some(2));
        assert!(table.get(70).is_empty());
        assert_eq!(table.counts(), (1, 1));
    }

    #[test]
    fn revoking_a_shared_id_ends_every_entry_and_uninstalling_keeps_them_wanted() {
        let mut table = LiveTable::new();
        table.install(70, Arc::new(Item(1, true)));
        table.install(70, Arc::new(Item(2, true)));
        assert_eq!(ids(&table.uninstall(70)), [1, 2]);
        assert!(table.is_wanted(1) && table.is_wanted(2));
        assert_eq!(table.router_id(1), None);

        table.install(71, Arc::new(Item(1, true)));
        table.install(71, Arc::new(Item(2, true)));
        assert_eq!(ids(&table.revoke(71)), [1, 2]);
        assert_eq!(table.counts(), (0, 0));
    }

    #[test]
    fn the_published_map_follows_the_first_entry_under_each_router_id() {
        let published = Published::default();
        let mut table = LiveTable::published(published.clone());
        let first = |id| published.read().get(&id).map(|e: &Arc<Item>| e.0);
        table.install(70, Arc::new(Item(1, true)));
        table.install(70, Arc::new(Item(2, true)));
        table.install(80, Arc::new(Item(3, true)));
        assert_eq!((first(70), first(80)), (Some(1), Some(3)));
        table.forget(1);
        assert_eq!(first(70), Some(2));
        // Moved to another router id.
        table.install(81, Arc::new(Item(3, true)));
        assert_eq!((first(80), first(81)), (None, Some(3)));
        table.uninstall(70);
        assert_eq!(first(70), None);
        table.install(90, Arc::new(Item(2, true)));
        table.revoke(90);
        assert_eq!(first(90), None);
        table.reset_connection();
        assert!(published.read().is_empty());
    }

    #[test]
    fn a_reset_returns_what_to_restore_in_order_without_join_hook_entries() {
        let mut table = LiveTable::new();
        table.install(9, Arc::new(Item(3, true)));
        table.install(9, Arc::new(Item(1, true)));
        table.install(8, Arc::new(Item(2, false)));
        assert_eq!(ids(&table.reset_connection()), [1, 3]);
        assert!(table.get(9).is_empty());
        // Installed again under a new id after the reconnect, and moved when re-installed.
        table.install(5, Arc::new(Item(1, true)));
        table.install(6, Arc::new(Item(1, true)));
        assert!(table.get(5).is_empty());
        assert_eq!(ids(table.get(6)), [1]);
    }
}
