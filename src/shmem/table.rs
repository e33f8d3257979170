//! A fixed-size hash table for shared memory: plain data, no pointers, no allocation.
//!
//! Open addressing with linear probing and backward-shift deletion (no tombstones, so probe
//! sequences stay short however many entries come and go). It never refuses an insert: past
//! three quarters full it evicts the least recently used entry first. Everything kept in it is
//! soft state that is safe to lose (a token bucket that is evicted comes back full, which is where
//! an idle bucket would be anyway; a lost rotation cursor restarts the rotation).

pub trait Entry: Copy {
    type Key: Copy + PartialEq;
    fn key(&self) -> Self::Key;
    fn hash(key: &Self::Key) -> u64;
    /// When the entry was last used (any monotonic clock): the least recent is evicted first.
    fn last_used(&self) -> i64;
}

#[derive(Clone, Copy)]
pub struct Table<E: Entry, const N: usize> {
    slots: [Option<E>; N],
    used: usize,
}

impl<E: Entry, const N: usize> Table<E, N> {
    pub const fn new() -> Self {
        Table { slots: [None; N], used: 0 }
    }

    /// Make an empty table in place, for one too large to build on the stack.
    ///
    /// # Safety
    /// `this` must be valid for writes and aligned.
    pub unsafe fn init_at(this: *mut Self) {
        unsafe {
            let slots = (&raw mut (*this).slots).cast::<Option<E>>();
            for i in 0..N {
                slots.add(i).write(None);
            }
            (&raw mut (*this).used).write(0);
        }
    }

    fn home(key: &E::Key) -> usize {
        (E::hash(key) % N as u64) as usize
    }

    fn find(&self, key: &E::Key) -> Option<usize> {
        let mut i = Self::home(key);
        for _ in 0..N {
            match &self.slots[i] {
                None => return None,
                Some(e) if e.key() == *key => return Some(i),
                Some(_) => i = (i + 1) % N,
            }
        }
        None
    }

    /// Would an insertion evict an entry?
    pub fn is_full(&self) -> bool {
        self.used * 4 >= N * 3
    }

    pub fn get(&self, key: &E::Key) -> Option<&E> {
        let i = self.find(key)?;
        self.slots[i].as_ref()
    }

    pub fn get_mut(&mut self, key: &E::Key) -> Option<&mut E> {
        let i = self.find(key)?;
        self.slots[i].as_mut()
    }

    /// The entry for `key`, inserted with `make` when absent (evicting the least recently used
    /// entry first when the table is three quarters full).
    pub fn get_or_insert(&mut self, key: E::Key, make: impl FnOnce() -> E) -> &mut E {
        if let Some(i) = self.find(&key) {
            return self.slots[i].as_mut().expect("found");
        }
        if self.is_full() {
            self.evict_least_recent();
        }
        let mut i = Self::home(&key);
        while self.slots[i].is_some() {
            i = (i + 1) % N;
        }
        self.slots[i] = Some(make());
        self.used += 1;
        self.slots[i].as_mut().expect("just inserted")
    }

    pub fn remove(&mut self, key: &E::Key) -> bool {
        match self.find(key) {
            Some(i) => {
                self.remove_at(i);
                true
            }
            None => false,
        }
    }

    /// Remove every entry `doomed` picks; returns how many went.
    pub fn remove_where(&mut self, mut doomed: impl FnMut(&E) -> bool) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < N {
            // A backward shift may move a later entry into slot i: look at i again before moving on.
            if self.slots[i].as_ref().is_some_and(&mut doomed) {
                self.remove_at(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Remove the least recently used entry among those `evictable` picks; false when none is.
    pub fn evict_least_recent_where(&mut self, mut evictable: impl FnMut(&E) -> bool) -> bool {
        let victim = (0..N)
            .filter(|&i| self.slots[i].as_ref().is_some_and(&mut evictable))
            .min_by_key(|&i| self.slots[i].as_ref().map(E::last_used));
        if let Some(i) = victim {
            self.remove_at(i);
        }
        victim.is_some()
    }

    fn evict_least_recent(&mut self) {
        let victim =
            (0..N).filter(|&i| self.slots[i].is_some()).min_by_key(|&i| self.slots[i].as_ref().map(E::last_used));
        if let Some(i) = victim {
            self.remove_at(i);
        }
    }

    /// Backward-shift deletion: pull later members of the probe run into the gap, so that every
    /// remaining entry stays reachable from its home slot without tombstones.
    fn remove_at(&mut self, mut gap: usize) {
        self.slots[gap] = None;
        self.used -= 1;
        let mut j = (gap + 1) % N;
        while let Some(e) = self.slots[j] {
            let home = Self::home(&e.key());
            // Move e into the gap when its home does not lie cyclically in (gap, j].
            let between = if gap <= j { gap < home && home <= j } else { gap < home || home <= j };
            if !between {
                self.slots[gap] = Some(e);
                self.slots[j] = None;
                gap = j;
            }
            j = (j + 1) % N;
        }
    }

    pub fn len(&self) -> usize {
        self.used
    }

    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.slots.iter().flatten()
    }

    /// Entries may change in place, not their keys.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.slots.iter_mut().flatten()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct E {
        k: u32,
        v: i64,
    }

    impl Entry for E {
        type Key = u32;
        fn key(&self) -> u32 {
            self.k
        }
        fn hash(k: &u32) -> u64 {
            (*k as u64) % 7 // collisions on purpose
        }
        fn last_used(&self) -> i64 {
            self.v
        }
    }

    #[test]
    fn inserts_finds_and_removes_with_collisions() {
        let mut t: Table<E, 16> = Table::new();
        for k in 0..12 {
            t.get_or_insert(k, || E { k, v: k as i64 });
        }
        assert_eq!(t.len(), 12);
        for k in 0..12 {
            assert_eq!(t.get_mut(&k).map(|e| e.v), Some(k as i64));
        }
        assert!(t.remove(&3));
        assert!(!t.remove(&3));
        for k in (0..12).filter(|k| *k != 3) {
            assert!(t.get_mut(&k).is_some(), "{k} lost after a removal");
        }
        assert_eq!(t.remove_where(|e| e.k % 2 == 0), 6);
        for k in 0..12 {
            assert_eq!(t.get_mut(&k).is_some(), k % 2 == 1 && k != 3, "{k}");
        }
    }

    #[test]
    fn never_refuses_and_evicts_the_least_recently_used() {
        let mut t: Table<E, 8> = Table::new();
        for k in 0..1000u32 {
            t.get_or_insert(k, || E { k, v: k as i64 });
            assert!(t.len() <= 6);
            assert!(t.get_mut(&k).is_some());
        }
        // The newest survive.
        for k in 995..1000 {
            assert!(t.get_mut(&k).is_some(), "{k}");
        }
        assert!(t.get_mut(&0).is_none());
    }

    #[test]
    fn random_operations_match_a_model() {
        let mut t: Table<E, 64> = Table::new();
        let mut model = std::collections::HashMap::new();
        let mut seed = 12345u64;
        for step in 0..20_000i64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let k = ((seed >> 33) % 40) as u32;
            if (seed >> 20).is_multiple_of(3) {
                assert_eq!(t.remove(&k), model.remove(&k).is_some());
            } else {
                t.get_or_insert(k, || E { k, v: step }).v = step;
                model.insert(k, step);
            }
            // 40 keys never exceed 48 entries: no eviction, so the table must equal the model.
            for (k, v) in &model {
                assert_eq!(t.get_mut(k).map(|e| e.v), Some(*v));
            }
            assert_eq!(t.len(), model.len());
        }
    }
}
