//! Bounded experience replay.
//!
//! Experiences are stored column-wise (all features in one `f32` buffer) so sampling reads
//! contiguous rows and a checkpoint writes a handful of flat arrays. Every experience carries
//! the id of the trade it came from; pushing an id that is already stored is a no-op, so
//! replaying an event log twice cannot double-count. All randomness comes from the caller's
//! [`SplitMix64`], so sampling is deterministic given the engine's seed.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::rng::SplitMix64;

/// What happens when a full buffer receives a new experience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ReplayMode {
    /// Evict the oldest experience (a sliding window over recent trades).
    Ring,
    /// Reservoir sampling (Vitter's algorithm R): every experience ever pushed has the same
    /// chance `capacity / pushed` of being in the buffer, so old regimes stay represented.
    Reservoir,
}

/// Replay buffer configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ReplayConfig {
    /// Most experiences kept (default 10,000; at most 1,000,000).
    pub capacity: u32,
    /// Eviction policy (default [`ReplayMode::Ring`]).
    pub mode: ReplayMode,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            mode: ReplayMode::Ring,
        }
    }
}

impl ReplayConfig {
    /// Largest capacity accepted.
    pub const MAX_CAPACITY: u32 = 1_000_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=Self::MAX_CAPACITY).contains(&self.capacity),
            "replay.capacity must be in 1..=1000000",
        )
    }
}

/// Experience ids with this bit set come from observations (`Command::Observe`), not trades.
pub const OBSERVATION_BIT: u64 = 1 << 63;

/// Whether an experience id is an observation's.
pub fn is_observation(id: u64) -> bool {
    id & OBSERVATION_BIT != 0
}

/// One learning example: a closed trade's entry features and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experience {
    /// The trade id it came from (deduplication key).
    pub id: u64,
    /// When the trade closed (ms since the Unix epoch).
    pub time: i64,
    /// Feature vector at entry.
    pub features: Vec<f32>,
    /// Outcome class (0 loss, 1 flat, 2 win).
    pub class: u8,
    /// The stop-loss and take-profit distances used, each scaled to `[0, 1]` within the
    /// exit learner's bounds.
    pub exits: [f32; 2],
    /// Reward of the trade (risk multiple: PnL % / stop distance %).
    pub reward: f32,
}

/// A stored experience, borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExperienceRef<'a> {
    /// Trade id.
    pub id: u64,
    /// Close time.
    pub time: i64,
    /// Insertion number (0 for the first experience ever pushed).
    pub seq: u64,
    /// Features.
    pub features: &'a [f32],
    /// Outcome class.
    pub class: u8,
    /// Scaled exits used.
    pub exits: [f32; 2],
    /// Reward.
    pub reward: f32,
}

/// What [`ReplayBuffer::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Stored in a free slot.
    Added,
    /// Stored, evicting the experience with this id.
    Replaced(u64),
    /// Not stored: reservoir sampling passed it over.
    Skipped,
    /// Not stored: an experience with this id is already in the buffer.
    Duplicate,
}

/// The buffer. Slots are in insertion order until the buffer is full.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayBuffer {
    config: ReplayConfig,
    dim: usize,
    ids: Vec<u64>,
    times: Vec<i64>,
    seqs: Vec<u64>,
    features: Vec<f32>,
    classes: Vec<u8>,
    exits: Vec<f32>,
    rewards: Vec<f32>,
    /// Next slot a ring buffer overwrites once full.
    head: usize,
    /// Experiences offered and not rejected as duplicates, ever.
    pushed: u64,
    /// id -> slot; derived from `ids`.
    index: IdIndex,
}

/// Open-addressing hash map from experience id to slot (linear probing, backward-shift
/// deletion). It is only ever queried, never iterated, so its internal layout cannot
/// influence any result; rebuilding it is a few microseconds per thousand ids.
#[derive(Debug, Clone)]
struct IdIndex {
    keys: Vec<u64>,
    slots: Vec<u32>,
    mask: usize,
}

impl PartialEq for IdIndex {
    /// Derived from the `ids` column, which is compared instead.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl IdIndex {
    const EMPTY: u32 = u32::MAX;

    /// Room for `capacity` ids at a load factor of at most one half.
    fn with_capacity(capacity: usize) -> Self {
        let size = (2 * capacity).max(16).next_power_of_two();
        Self {
            keys: vec![0; size],
            slots: vec![Self::EMPTY; size],
            mask: size - 1,
        }
    }

    fn home(&self, id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    fn find(&self, id: u64) -> Result<usize, usize> {
        let mut i = self.home(id);
        loop {
            if self.slots[i] == Self::EMPTY {
                return Err(i);
            }
            if self.keys[i] == id {
                return Ok(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn contains(&self, id: u64) -> bool {
        self.find(id).is_ok()
    }

    /// Inserts `id -> slot`; `false` if `id` was already present.
    fn insert(&mut self, id: u64, slot: usize) -> bool {
        match self.find(id) {
            Ok(_) => false,
            Err(i) => {
                self.keys[i] = id;
                self.slots[i] = slot as u32;
                true
            }
        }
    }

    fn remove(&mut self, id: u64) {
        let Ok(mut hole) = self.find(id) else { return };
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            if self.slots[j] == Self::EMPTY {
                break;
            }
            // Move the entry at `j` into the hole unless its home lies cyclically in (hole, j].
            let home = self.home(self.keys[j]);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.keys[hole] = self.keys[j];
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole] = Self::EMPTY;
    }
}

/// The columns of a buffer, borrowed, for writing checkpoints.
pub(crate) struct ReplayColumns<'a> {
    pub dim: u32,
    pub ids: &'a [u64],
    pub times: &'a [i64],
    pub seqs: &'a [u64],
    pub features: &'a [f32],
    pub classes: &'a [u8],
    pub exits: &'a [f32],
    pub rewards: &'a [f32],
    pub head: u32,
    pub pushed: u64,
}

/// The columns of a buffer, owned, for reading checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReplayParts {
    pub config: ReplayConfig,
    pub dim: u32,
    pub ids: Vec<u64>,
    pub times: Vec<i64>,
    pub seqs: Vec<u64>,
    pub features: Vec<f32>,
    pub classes: Vec<u8>,
    pub exits: Vec<f32>,
    pub rewards: Vec<f32>,
    pub head: u32,
    pub pushed: u64,
}

impl ReplayBuffer {
    /// An empty buffer for `dim`-feature experiences.
    pub fn new(config: ReplayConfig, dim: usize) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config,
            dim,
            ids: Vec::new(),
            times: Vec::new(),
            seqs: Vec::new(),
            features: Vec::new(),
            classes: Vec::new(),
            exits: Vec::new(),
            rewards: Vec::new(),
            head: 0,
            pushed: 0,
            index: IdIndex::with_capacity(config.capacity as usize),
        })
    }

    /// Features per experience.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Stored experiences.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// `true` when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The configuration.
    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// Experiences ever accepted for consideration (duplicates excluded). The next push gets
    /// this number as its `seq`.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// `true` if an experience with this id is stored.
    pub fn contains(&self, id: u64) -> bool {
        self.index.contains(id)
    }

    /// The experience in `slot` (`slot < len()`).
    pub fn get(&self, slot: usize) -> Option<ExperienceRef<'_>> {
        if slot >= self.len() {
            return None;
        }
        Some(ExperienceRef {
            id: self.ids[slot],
            time: self.times[slot],
            seq: self.seqs[slot],
            features: &self.features[slot * self.dim..(slot + 1) * self.dim],
            class: self.classes[slot],
            exits: [self.exits[2 * slot], self.exits[2 * slot + 1]],
            reward: self.rewards[slot],
        })
    }

    /// Validates an experience against this buffer without storing it.
    pub fn check(&self, e: &Experience) -> Result<(), Error> {
        if e.features.len() != self.dim {
            return Err(Error::FeatureLength {
                expected: self.dim as u32,
                got: e.features.len() as u32,
            });
        }
        crate::error::all_finite("experience features", &e.features)?;
        crate::error::all_finite("experience exits", &e.exits)?;
        crate::error::all_finite("experience reward", &[e.reward])
    }

    /// Stores `e` according to the mode. Reservoir mode draws from `rng` once the buffer is full.
    pub fn push(&mut self, e: &Experience, rng: &mut SplitMix64) -> Result<Pushed, Error> {
        self.check(e)?;
        if self.index.contains(e.id) {
            return Ok(Pushed::Duplicate);
        }
        let seq = self.pushed;
        self.pushed += 1;
        let cap = self.config.capacity as usize;
        if self.len() < cap {
            let slot = self.len();
            self.ids.push(e.id);
            self.times.push(e.time);
            self.seqs.push(seq);
            self.features.extend_from_slice(&e.features);
            self.classes.push(e.class);
            self.exits.extend_from_slice(&e.exits);
            self.rewards.push(e.reward);
            self.index.insert(e.id, slot);
            return Ok(Pushed::Added);
        }
        let slot = match self.config.mode {
            ReplayMode::Ring => {
                let s = self.head;
                self.head = (self.head + 1) % cap;
                s
            }
            ReplayMode::Reservoir => {
                let j = rng.below(self.pushed) as usize;
                if j >= cap {
                    return Ok(Pushed::Skipped);
                }
                j
            }
        };
        let evicted = self.ids[slot];
        self.index.remove(evicted);
        self.index.insert(e.id, slot);
        self.ids[slot] = e.id;
        self.times[slot] = e.time;
        self.seqs[slot] = seq;
        self.features[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(&e.features);
        self.classes[slot] = e.class;
        self.exits[2 * slot..2 * slot + 2].copy_from_slice(&e.exits);
        self.rewards[slot] = e.reward;
        Ok(Pushed::Replaced(evicted))
    }

    /// `k` distinct slots drawn uniformly without replacement (all slots, shuffled, if
    /// `k >= len`), by a partial Fisher-Yates shuffle.
    pub fn sample(&self, k: usize, rng: &mut SplitMix64) -> Vec<usize> {
        let mut slots: Vec<usize> = (0..self.len()).collect();
        partial_shuffle(&mut slots, k, rng);
        slots
    }

    /// The incremental fine-tuning mix: every experience with `seq >= since` ("new"), plus
    /// `k_old` drawn uniformly without replacement from the older ones, shuffled together.
    pub fn mix_new_and_old(&self, since: u64, k_old: usize, rng: &mut SplitMix64) -> Vec<usize> {
        let (mut new, mut old): (Vec<usize>, Vec<usize>) =
            (0..self.len()).partition(|&s| self.seqs[s] >= since);
        partial_shuffle(&mut old, k_old, rng);
        new.extend_from_slice(&old);
        let n = new.len();
        partial_shuffle(&mut new, n, rng);
        new
    }

    /// Slots ordered by insertion (`seq`), oldest first: date order for time-based splits.
    pub fn by_age(&self) -> Vec<usize> {
        let n = self.len();
        if self.config.mode == ReplayMode::Ring {
            // A ring holds its slots in insertion order from `head` (0 until it is full).
            return (self.head..n).chain(0..self.head.min(n)).collect();
        }
        let mut slots: Vec<usize> = (0..n).collect();
        slots.sort_by_key(|&s| self.seqs[s]);
        slots
    }

    /// Copies the features of `slots` into `out` (row-major), replacing its contents.
    pub fn gather_features(&self, slots: &[usize], out: &mut Vec<f32>) {
        out.clear();
        for &s in slots {
            out.extend_from_slice(&self.features[s * self.dim..(s + 1) * self.dim]);
        }
    }

    pub(crate) fn columns(&self) -> ReplayColumns<'_> {
        ReplayColumns {
            dim: self.dim as u32,
            ids: &self.ids,
            times: &self.times,
            seqs: &self.seqs,
            features: &self.features,
            classes: &self.classes,
            exits: &self.exits,
            rewards: &self.rewards,
            head: self.head as u32,
            pushed: self.pushed,
        }
    }

    pub(crate) fn from_parts(p: ReplayParts) -> Result<Self, &'static str> {
        p.config
            .validate()
            .map_err(|_| "replay capacity out of range")?;
        let len = p.ids.len();
        let dim = p.dim as usize;
        let ok = len <= p.config.capacity as usize
            && p.times.len() == len
            && p.seqs.len() == len
            && p.classes.len() == len
            && p.rewards.len() == len
            && Some(p.features.len()) == len.checked_mul(dim)
            && p.exits.len() == 2 * len
            && (p.head as usize) < p.config.capacity as usize
            && (len == p.config.capacity as usize || p.head == 0)
            && p.seqs.iter().fold(true, |ok, &s| ok & (s < p.pushed))
            && p.classes.iter().fold(true, |ok, &c| ok & (c < 3));
        if !ok {
            return Err("replay columns are inconsistent");
        }
        let finite = |v: &[f32]| crate::error::all_finite("", v).is_ok();
        if !(finite(&p.features) && finite(&p.exits) && finite(&p.rewards)) {
            return Err("replay holds non-finite values");
        }
        if p.config.mode == ReplayMode::Ring {
            // A ring's slots are in insertion order from `head`.
            let head = (p.head as usize).min(len);
            let order = p.seqs[head..].iter().chain(&p.seqs[..head]);
            let mut prev = None;
            for &s in order {
                if prev.is_some_and(|q| s <= q) {
                    return Err("a ring buffer's slots are out of insertion order");
                }
                prev = Some(s);
            }
        }
        let mut index = IdIndex::with_capacity(p.config.capacity as usize);
        for (slot, &id) in p.ids.iter().enumerate() {
            if !index.insert(id, slot) {
                return Err("replay holds a duplicate id");
            }
        }
        Ok(Self {
            config: p.config,
            dim,
            ids: p.ids,
            times: p.times,
            seqs: p.seqs,
            features: p.features,
            classes: p.classes,
            exits: p.exits,
            rewards: p.rewards,
            head: p.head as usize,
            pushed: p.pushed,
            index,
        })
    }
}

/// Keeps a uniform random `k`-subset of `v`, in random order.
fn partial_shuffle(v: &mut Vec<usize>, k: usize, rng: &mut SplitMix64) {
    rng.shuffle_prefix(v, k);
    v.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn exp(id: u64, dim: usize) -> Experience {
        Experience {
            id,
            time: id as i64 * 1000,
            features: vec![id as f32; dim],
            class: (id % 3) as u8,
            exits: [0.5, 0.25],
            reward: id as f32 / 10.0,
        }
    }

    #[test]
    fn ring_evicts_oldest_and_dedups() {
        let mut rng = SplitMix64::new(1);
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                capacity: 3,
                mode: ReplayMode::Ring,
            },
            2,
        )
        .unwrap();
        for id in 1..=3 {
            assert_eq!(b.push(&exp(id, 2), &mut rng).unwrap(), Pushed::Added);
        }
        assert_eq!(b.push(&exp(2, 2), &mut rng).unwrap(), Pushed::Duplicate);
        assert_eq!(b.push(&exp(4, 2), &mut rng).unwrap(), Pushed::Replaced(1));
        assert_eq!(b.push(&exp(5, 2), &mut rng).unwrap(), Pushed::Replaced(2));
        assert!(!b.contains(1) && b.contains(4) && b.contains(3));
        assert_eq!(b.len(), 3);
        let ids: Vec<u64> = b.by_age().iter().map(|&s| b.get(s).unwrap().id).collect();
        assert_eq!(ids, vec![3, 4, 5]);
        assert_eq!(b.get(b.by_age()[2]).unwrap().features, &[5.0, 5.0]);
        // Re-pushing an evicted id is allowed again (it is no longer stored).
        assert_eq!(b.push(&exp(1, 2), &mut rng).unwrap(), Pushed::Replaced(3));
    }

    #[test]
    fn id_index_agrees_with_a_reference_map_under_churn() {
        let mut rng = SplitMix64::new(12);
        let mut idx = IdIndex::with_capacity(64);
        let mut reference = alloc::collections::BTreeMap::new();
        for step in 0..20_000u64 {
            // Clustered ids (collisions) and random ones.
            let id = if step % 3 == 0 {
                rng.below(200)
            } else {
                rng.next_u64() % 150 * 4096
            };
            if reference.len() < 64 && !reference.contains_key(&id) {
                assert!(idx.insert(id, step as usize % 1000));
                reference.insert(id, step as usize % 1000);
            } else if let Some(&slot) = reference.get(&id) {
                assert_eq!(idx.find(id).map(|i| idx.slots[i] as usize), Ok(slot));
                idx.remove(id);
                reference.remove(&id);
            }
            for (&k, &v) in reference.iter().take(8) {
                assert_eq!(idx.find(k).map(|i| idx.slots[i] as usize), Ok(v));
            }
            assert!(!idx.contains(u64::MAX - step) || reference.contains_key(&(u64::MAX - step)));
        }
    }

    #[test]
    fn reservoir_keeps_a_uniform_sample_of_everything() {
        // Over many seeds, each of 100 pushed ids should be kept ~capacity/100 of the time.
        let mut kept = [0u32; 100];
        for seed in 0..400 {
            let mut rng = SplitMix64::new(seed);
            let mut b = ReplayBuffer::new(
                ReplayConfig {
                    capacity: 10,
                    mode: ReplayMode::Reservoir,
                },
                1,
            )
            .unwrap();
            for id in 0..100 {
                b.push(&exp(id, 1), &mut rng).unwrap();
            }
            assert_eq!(b.len(), 10);
            for s in 0..b.len() {
                kept[b.get(s).unwrap().id as usize] += 1;
            }
        }
        // Expected 40 each; early and late ids alike.
        let early: u32 = kept[..20].iter().sum();
        let late: u32 = kept[80..].iter().sum();
        assert!(
            (600..1000).contains(&early) && (600..1000).contains(&late),
            "{early} {late}"
        );
    }

    #[test]
    fn sampling_is_without_replacement_and_deterministic() {
        let mut rng = SplitMix64::new(2);
        let mut b = ReplayBuffer::new(ReplayConfig::default(), 1).unwrap();
        for id in 0..50 {
            b.push(&exp(id, 1), &mut rng).unwrap();
        }
        let mut r1 = SplitMix64::new(9);
        let mut r2 = SplitMix64::new(9);
        let s1 = b.sample(20, &mut r1);
        assert_eq!(s1, b.sample(20, &mut r2));
        let mut sorted = s1.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
        assert_eq!(b.sample(500, &mut r1).len(), 50);
    }

    #[test]
    fn mix_has_all_new_and_k_old() {
        let mut rng = SplitMix64::new(3);
        let mut b = ReplayBuffer::new(ReplayConfig::default(), 1).unwrap();
        for id in 0..40 {
            b.push(&exp(id, 1), &mut rng).unwrap();
        }
        let mix = b.mix_new_and_old(30, 5, &mut rng);
        assert_eq!(mix.len(), 15);
        let new = mix.iter().filter(|&&s| b.get(s).unwrap().seq >= 30).count();
        assert_eq!(new, 10);
    }

    #[test]
    fn bad_experiences_are_rejected_without_change() {
        let mut rng = SplitMix64::new(4);
        let mut b = ReplayBuffer::new(ReplayConfig::default(), 2).unwrap();
        b.push(&exp(1, 2), &mut rng).unwrap();
        let before = b.clone();
        assert!(matches!(
            b.push(&exp(2, 3), &mut rng),
            Err(Error::FeatureLength {
                expected: 2,
                got: 3
            })
        ));
        let mut nan = exp(3, 2);
        nan.features[1] = f32::NAN;
        assert!(b.push(&nan, &mut rng).is_err());
        let mut inf = exp(4, 2);
        inf.reward = f32::INFINITY;
        assert!(b.push(&inf, &mut rng).is_err());
        assert_eq!(b, before);
        assert!(
            ReplayBuffer::new(
                ReplayConfig {
                    capacity: 0,
                    mode: ReplayMode::Ring
                },
                2
            )
            .is_err()
        );
    }

    fn parts(b: &ReplayBuffer) -> ReplayParts {
        let c = b.columns();
        ReplayParts {
            config: *b.config(),
            dim: c.dim,
            ids: c.ids.to_vec(),
            times: c.times.to_vec(),
            seqs: c.seqs.to_vec(),
            features: c.features.to_vec(),
            classes: c.classes.to_vec(),
            exits: c.exits.to_vec(),
            rewards: c.rewards.to_vec(),
            head: c.head,
            pushed: c.pushed,
        }
    }

    #[test]
    fn parts_round_trip_and_inconsistent_parts_are_rejected() {
        let mut rng = SplitMix64::new(5);
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                capacity: 4,
                mode: ReplayMode::Ring,
            },
            2,
        )
        .unwrap();
        for id in 0..6 {
            b.push(&exp(id, 2), &mut rng).unwrap();
        }
        assert_eq!(ReplayBuffer::from_parts(parts(&b)).unwrap(), b);
        let mut p = parts(&b);
        p.ids[1] = p.ids[0];
        assert!(ReplayBuffer::from_parts(p).is_err());
        let mut p = parts(&b);
        p.features.pop();
        assert!(ReplayBuffer::from_parts(p).is_err());
        let mut p = parts(&b);
        p.head = 9;
        assert!(ReplayBuffer::from_parts(p).is_err());
        // A ring whose slots are not in insertion order from `head` is refused.
        let mut p = parts(&b);
        p.seqs.swap(0, 1);
        assert!(ReplayBuffer::from_parts(p).is_err());
    }
}
