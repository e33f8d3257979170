//! Where claims of a queue's default group may start scanning.
//!
//! A claim deletes the jobs it takes from queue.ready; their index entries stay at the head of the
//! claim index until VACUUM removes them, and every claim that starts at the head walks over them
//! (under a held xmin horizon they cannot even be marked dead, and the walk grows with every job
//! claimed). So a claim remembers where it stopped, and the next one starts there, provided no job
//! can be ready before that point:
//!
//! - A job is ordered by its claim key (-priority, run_at, id), ascending.
//! - A claim reads the start (and the hint's counters) before its snapshot, scans from there,
//!   and afterwards moves the start to the last key it took ([`HeadHint::advance`]).
//! - Whoever makes a default-group job ready at a key reports it when the job has become visible
//!   (commit): [`HeadHint::lower`] moves the start back to it. A claim that read the start before
//!   such a report cannot have seen the job (its snapshot may predate the commit), so its
//!   advance stops at the lowest key reported since its read; when more reports came than the
//!   hint remembers, it does not advance at all.
//!   Enqueues, promotions of scheduled jobs, failures, releases, retries and spread refreshes
//!   all report the first default-group key they made ready (src/heads.rs).
//! - A rolled-back claim or cancel (or a rollback to a savepoint around one) brings back jobs at
//!   keys nobody reports: it forgets the start, and claims begin at the head again until one has
//!   found it.
//!
//! Losing a hint (eviction, restart) only costs a walk; it never hides a job.

/// A job's position in claim order: (-priority, run_at in microseconds, id).
pub type ClaimKey = (i64, i64, i64);

/// Before every possible key.
pub const BEGINNING: ClaimKey = (i64::MIN, i64::MIN, i64::MIN);

const REMEMBERED: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HintRead {
    /// Where to start scanning (BEGINNING: from the head).
    pub start: ClaimKey,
    incarnation: u64,
    reports: u64,
}

impl HintRead {
    /// No hint: scan from the head, and never advance.
    pub fn none() -> Self {
        HintRead { start: BEGINNING, incarnation: 0, reports: u64::MAX }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HeadHint {
    start: ClaimKey,
    /// Identifies this hint: a hint evicted and made again must not accept advances read before.
    incarnation: u64,
    /// Reports (lowerings and forgettings) so far, and the latest of them.
    reports: u64,
    recent: [ClaimKey; REMEMBERED],
}

impl HeadHint {
    pub const fn new(incarnation: u64) -> Self {
        HeadHint { start: BEGINNING, incarnation, reports: 0, recent: [BEGINNING; REMEMBERED] }
    }

    pub fn read(&self) -> HintRead {
        HintRead { start: self.start, incarnation: self.incarnation, reports: self.reports }
    }

    fn report(&mut self, key: ClaimKey) {
        self.recent[(self.reports % REMEMBERED as u64) as usize] = key;
        self.reports += 1;
    }

    /// A job became ready (visible) at `key`.
    pub fn lower(&mut self, key: ClaimKey) {
        self.report(key);
        self.start = self.start.min(key);
    }

    /// Jobs may have become ready anywhere.
    pub fn forget(&mut self) {
        self.report(BEGINNING);
        self.start = BEGINNING;
    }

    /// A claim that read `read` took jobs up to `last`: start there, or no further than the lowest
    /// report since its read.
    pub fn advance(&mut self, read: HintRead, last: ClaimKey) {
        if read.incarnation != self.incarnation || read.reports > self.reports {
            return;
        }
        let since = self.reports - read.reports;
        if since > REMEMBERED as u64 {
            return;
        }
        // Every ready job before `last` was seen by that claim (taken by it, or held by other
        // claims, which forget the hint if they roll back), except jobs reported since its read.
        let lowest = (read.reports..self.reports)
            .map(|r| self.recent[(r % REMEMBERED as u64) as usize])
            .fold(last, ClaimKey::min);
        // Both bounds leave no ready job behind them: so does the larger.
        self.start = self.start.max(lowest);
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    const K1: ClaimKey = (0, 100, 1);
    const K2: ClaimKey = (0, 200, 2);
    const K3: ClaimKey = (0, 300, 3);

    #[test]
    fn a_claim_moves_the_start_when_nothing_was_reported() {
        let mut h = HeadHint::new(1);
        let r = h.read();
        assert_eq!(r.start, BEGINNING);
        h.advance(r, K2);
        assert_eq!(h.read().start, K2);
        // An older claim that stopped earlier does not move it back.
        h.advance(r, K1);
        assert_eq!(h.read().start, K2);
    }

    #[test]
    fn a_job_made_ready_meanwhile_bounds_the_advance() {
        let mut h = HeadHint::new(1);
        let r = h.read();
        h.lower(K1); // committed after the claim's snapshot, perhaps: the claim did not see it
        h.advance(r, K3);
        assert!(h.read().start <= K1, "{:?}", h.read().start);
        // A claim reading now sees K1's job (it is visible): it may move on past it.
        let r = h.read();
        h.advance(r, K3);
        assert_eq!(h.read().start, K3);
    }

    #[test]
    fn a_lowering_after_the_advance_wins() {
        let mut h = HeadHint::new(1);
        let r = h.read();
        h.advance(r, K3);
        h.lower(K1);
        assert_eq!(h.read().start, K1);
    }

    #[test]
    fn forgetting_sends_claims_back_to_the_head() {
        let mut h = HeadHint::new(1);
        let r = h.read();
        h.advance(r, K3);
        let stale = h.read();
        h.forget();
        assert_eq!(h.read().start, BEGINNING);
        h.advance(stale, K3);
        assert_eq!(h.read().start, BEGINNING, "an advance read before the forgetting moved the start");
    }

    #[test]
    fn too_many_reports_meanwhile_block_the_advance() {
        let mut h = HeadHint::new(1);
        let r = h.read();
        for i in 0..(REMEMBERED as i64 + 1) {
            h.lower((0, 1000 + i, 1000 + i));
        }
        let before = h.read().start;
        h.advance(r, K3);
        assert_eq!(h.read().start, before);
    }

    #[test]
    fn another_incarnation_refuses_old_reads() {
        let old = HeadHint::new(1).read();
        let mut h = HeadHint::new(2);
        h.advance(old, K3);
        assert_eq!(h.read().start, BEGINNING);
        let mut h = HeadHint::new(3);
        h.advance(HintRead::none(), K3);
        assert_eq!(h.read().start, BEGINNING);
    }

    /// A model check: random interleavings of claims, jobs made ready and forgettings never leave
    /// a ready job before the start unless a claim took it.
    #[test]
    fn no_ready_job_is_ever_left_behind_the_start() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for _round in 0..2000 {
            let mut h = HeadHint::new(1);
            // Ready (visible) jobs, by key; jobs committed but not yet reported; in-flight claims.
            let mut ready: std::collections::BTreeSet<ClaimKey> = Default::default();
            let mut unreported: Vec<ClaimKey> = Vec::new();
            let mut claims: Vec<(HintRead, std::collections::BTreeSet<ClaimKey>)> = Vec::new();
            let mut id = 0i64;
            for _step in 0..40 {
                match next() % 5 {
                    0 => {
                        // A job commits at a random key (visible now, reported later).
                        id += 1;
                        let k = ((next() % 3) as i64, (next() % 50) as i64, id);
                        ready.insert(k);
                        unreported.push(k);
                    }
                    1 => {
                        if let Some(k) = unreported.pop() {
                            h.lower(k);
                        }
                    }
                    2 => {
                        // A claim reads the hint and takes a snapshot of what is visible.
                        claims.push((h.read(), ready.clone()));
                    }
                    3 => {
                        // A claim scans its snapshot from its start, takes up to 2 jobs, advances.
                        if let Some((read, snapshot)) = claims.pop() {
                            let taken: Vec<ClaimKey> =
                                snapshot.range(read.start..).filter(|k| ready.contains(k)).take(2).copied().collect();
                            for k in &taken {
                                ready.remove(k);
                            }
                            if let Some(last) = taken.last() {
                                h.advance(read, *last);
                            }
                        }
                    }
                    _ => {
                        if next() % 4 == 0 {
                            h.forget();
                        }
                    }
                }
                // Every ready job that has been reported lies at or after the start.
                for k in &ready {
                    if !unreported.contains(k) {
                        assert!(*k >= h.read().start, "job {k:?} stranded before {:?}", h.read().start);
                    }
                }
            }
        }
    }
}
