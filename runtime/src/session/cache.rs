//! [`MaskCache`]: bitmask rows already computed, keyed by [`MaskKey`], shared by every session
//! of one artifact (a server keeps one per artifact), plus the artifact's indentation groups.
//!
//! **Invariant:** a row is stored only under the key it was computed from, and a key determines
//! its row for a given artifact, so a hit is exactly the row a miss would compute. The cache is
//! bounded by bytes: when the rows would exceed the budget it is cleared (a cold miss costs one
//! union, so a simple policy is enough). A poisoned lock degrades to misses, never a panic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::indent_mask::IndentGroups;
use super::key::MaskKey;

/// Unions of stored masks already computed, shared by every session of one artifact.
///
/// Bounded: when the cached rows exceed the byte budget the cache is cleared (a cold miss costs
/// one union, so a simple policy is enough).
pub struct MaskCache {
    map: Mutex<CacheMap>,
    budget: usize,
    /// Tokens grouped by leading spaces, for indentation masking (built on first use).
    indent_groups: OnceLock<IndentGroups>,
}

#[derive(Default)]
struct CacheMap {
    rows: HashMap<MaskKey, Arc<[u32]>>,
    bytes: usize,
}

impl MaskCache {
    /// A cache holding at most `budget_bytes` of bitmask rows.
    pub fn new(budget_bytes: usize) -> MaskCache {
        MaskCache { map: Mutex::new(CacheMap::default()), budget: budget_bytes, indent_groups: OnceLock::new() }
    }

    pub(super) fn get(&self, key: &MaskKey) -> Option<Arc<[u32]>> {
        self.map.lock().ok()?.rows.get(key).cloned()
    }

    pub(super) fn insert(&self, key: MaskKey, row: Arc<[u32]>) {
        if let Ok(mut map) = self.map.lock() {
            let size = row.len() * 4 + key.size_bytes();
            if map.bytes + size > self.budget {
                map.rows.clear();
                map.bytes = 0;
            }
            map.bytes += size;
            map.rows.insert(key, row);
        }
    }

    /// The indentation groups, built by `build` on first use.
    pub(super) fn indent_groups(&self, build: impl FnOnce() -> IndentGroups) -> &IndentGroups {
        self.indent_groups.get_or_init(build)
    }

    /// Number of cached rows.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.rows.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MaskCache {
    /// 64 MiB of rows (4,096 rows of a 128k vocabulary).
    fn default() -> MaskCache {
        MaskCache::new(64 << 20)
    }
}
