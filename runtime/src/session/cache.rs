//! [`MaskCache`]: exact masks already computed ([`ExactMask`]: a row plus the groups a fill
//! checks against the parser), keyed by [`MaskKey`], shared by every session of one artifact
//! (a server keeps one per artifact).
//!
//! **Invariant:** a row is stored only under the key it was computed from, and a key determines
//! its row for a given artifact, so a hit is exactly the row a miss would compute. A key means
//! nothing across artifacts, so a cache is bound to the first artifact a session uses it with
//! ([`ArtifactId`]: grammar hash, vocabulary hash, payload checksum, row width) and
//! [`Session::with_cache`](super::Session::with_cache) refuses it for any other. The cache is
//! bounded by bytes: when the rows would exceed the budget it is cleared (a cold miss costs one
//! union, so a simple policy is enough). A poisoned lock degrades to misses, never a panic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use syncodec_artifacts::header::hex;

use super::exact::{ExactMask, LexTable};
use super::key::{LexKey, MaskKey};
use crate::artifact::Artifact;

/// Unions of stored masks already computed, shared by every session of one artifact.
///
/// The first [`Session`](super::Session) created with it binds it to its artifact; sessions of
/// another artifact are refused ([`SessionError::CacheOfAnotherArtifact`](super::SessionError)).
///
/// Bounded: when the cached rows exceed the byte budget the cache is cleared (a cold miss costs
/// one union, so a simple policy is enough).
pub struct MaskCache {
    map: Mutex<CacheMap>,
    budget: usize,
    /// The text tokens sorted by bytes, for the exact masks' lexing (built on first use).
    byte_order: OnceLock<Box<[u32]>>,
    /// The artifact whose rows these are (set by the first session).
    owner: OnceLock<ArtifactId>,
}

/// What identifies an artifact's masks: the header's hashes and payload checksum, and the row
/// width. Two artifacts that agree on all four hold the same payload bytes, hence the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ArtifactId {
    grammar_hash: [u8; 32],
    vocab_hash: [u8; 32],
    payload_checksum: [u8; 16],
    width: usize,
}

impl ArtifactId {
    pub(super) fn of(artifact: &Artifact, width: usize) -> ArtifactId {
        let header = artifact.header();
        ArtifactId { grammar_hash: header.grammar_hash, vocab_hash: header.vocab_hash, payload_checksum: header.payload_checksum, width }
    }

    /// Short, human-readable: enough to tell two artifacts apart in a message.
    pub(super) fn describe(&self) -> String {
        format!("grammar {}, vocabulary {}, checksum {}, width {}", hex(&self.grammar_hash[..4]), hex(&self.vocab_hash[..4]), hex(&self.payload_checksum[..4]), self.width)
    }
}

#[derive(Default)]
struct CacheMap {
    rows: HashMap<MaskKey, Arc<ExactMask>>,
    /// How tokens lex from each lexical key, shared by the masks of every key with that half.
    tables: HashMap<LexKey, Arc<LexTable>>,
    bytes: usize,
}

impl MaskCache {
    /// A cache holding at most `budget_bytes` of bitmask rows.
    pub fn new(budget_bytes: usize) -> MaskCache {
        MaskCache { map: Mutex::new(CacheMap::default()), budget: budget_bytes, byte_order: OnceLock::new(), owner: OnceLock::new() }
    }

    /// Binds the cache to `id` if it is unbound; `Err` with the owner when it belongs to another
    /// artifact.
    pub(super) fn bind(&self, id: ArtifactId) -> Result<(), ArtifactId> {
        let owner = *self.owner.get_or_init(|| id);
        if owner == id {
            Ok(())
        } else {
            Err(owner)
        }
    }

    pub(super) fn get(&self, key: &MaskKey) -> Option<Arc<ExactMask>> {
        self.map.lock().ok()?.rows.get(key).cloned()
    }

    pub(super) fn insert(&self, key: MaskKey, row: Arc<ExactMask>) {
        if let Ok(mut map) = self.map.lock() {
            let size = row.size_bytes() + key.size_bytes();
            map.make_room(size, self.budget);
            map.rows.insert(key, row);
        }
    }

    pub(super) fn table(&self, key: &LexKey) -> Option<Arc<LexTable>> {
        self.map.lock().ok()?.tables.get(key).cloned()
    }

    pub(super) fn insert_table(&self, key: LexKey, table: Arc<LexTable>) {
        if let Ok(mut map) = self.map.lock() {
            let size = table.size_bytes() + key.size_bytes();
            map.make_room(size, self.budget);
            map.tables.insert(key, table);
        }
    }

    /// The text tokens sorted by bytes, built by `build` on first use.
    pub(super) fn byte_order(&self, build: impl FnOnce() -> Box<[u32]>) -> &[u32] {
        self.byte_order.get_or_init(build)
    }

    /// Number of cached rows.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.rows.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CacheMap {
    /// Clears everything when `size` more bytes would exceed `budget`, then counts them.
    fn make_room(&mut self, size: usize, budget: usize) {
        if self.bytes + size > budget {
            self.rows.clear();
            self.tables.clear();
            self.bytes = 0;
        }
        self.bytes += size;
    }
}

impl Default for MaskCache {
    /// 64 MiB of rows (4,096 rows of a 128k vocabulary).
    fn default() -> MaskCache {
        MaskCache::new(64 << 20)
    }
}
