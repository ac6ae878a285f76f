//! Memory linear in the text (issue 12, part 3): deeply nested JSON through the whole teacher-
//! forcing path, and a session of repeated `[` whose live heap must grow O(tokens), not
//! O(tokens × depth).
//!
//! Heap bytes are counted by a global allocator wrapper, per thread (the tests of this binary run
//! on several threads), so the check is exact and independent of timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

use syncodec_e2e::masks::{artifact, tokenizer};
use syncodec_e2e::workspace_root;
use syncodec_oracles::forcing::{self, Prepared};
use syncodec_oracles::verify::{verify_forced, FileStatus};
use syncodec_runtime::session::{MaskCache, Session};

/// The system allocator, counting the bytes each thread has allocated minus those it freed.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread's counter may already be gone while the thread shuts down.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

fn own_tokenizer() -> std::path::PathBuf {
    workspace_root().join("tokenizers/syncodec-bpe.json")
}

/// `syncodec verify` on 100,000 nested arrays: every token is in its mask, EOS at the end.
/// Each accepted token used to snapshot the whole parser stack (10^5 tokens × 10^5 states).
#[test]
fn verify_accepts_100k_nested_arrays() {
    const DEPTH: usize = 100_000;
    let path = own_tokenizer();
    let artifact = artifact("json", &path);
    let tokenizer = tokenizer(&path);
    let text = [vec![b'['; DEPTH], vec![b']'; DEPTH]].concat();
    let forced = match forcing::prepare_text(&artifact, &tokenizer, Path::new("deep.json"), text) {
        Prepared::Ready(forced) => forced,
        Prepared::Skip(why) | Prepared::Fail(why) => panic!("not teacher-forced: {why}"),
    };
    let mut times = Vec::new();
    let report = verify_forced(&artifact, &Arc::new(MaskCache::default()), &forced, &mut times);
    assert_eq!(report.status, FileStatus::Verified, "{:?}", report.lines);
    assert_eq!(report.violations, 0, "{:?}", report.lines);
    assert_eq!(report.checks, forced.ids.len() + 1);
}

/// 200,000 `[` tokens: the session's live heap grows by a bounded number of bytes per token
/// (the text, a word of history, the one new parser state, a checkpoint every 32 tokens), and
/// rolling back every token frees all of it.
#[test]
fn repeated_open_brackets_cost_linear_memory() {
    const N: usize = 200_000;
    /// Bytes per token allowed (measured: about 70).
    const PER_TOKEN: isize = 160;
    let path = own_tokenizer();
    let artifact = artifact("json", &path);
    let mut session = Session::new(&artifact).unwrap();
    let vocab = session.vocab();
    let open = (0..vocab.n_tokens() as u32).find(|&id| vocab.bytes(id) == Some(b"[".as_slice())).expect("a `[` token");
    let mut row = vec![0u32; session.bitmask_words()];
    session.fill_bitmask(&mut row).unwrap();
    let before = live_bytes();
    let mut at_half = 0;
    for i in 0..N {
        session.accept_token(open).unwrap();
        if i % 1000 == 0 {
            session.fill_bitmask(&mut row).unwrap();
            // Checked as it grows, so that quadratic memory fails here rather than exhausting
            // the machine.
            let grown = live_bytes() - before;
            assert!(grown <= PER_TOKEN * (i as isize + 1) + (1 << 20), "{grown} bytes after {} tokens", i + 1);
        }
        if i == N / 2 {
            at_half = live_bytes() - before;
        }
    }
    let grown = live_bytes() - before;
    println!("{N} nested `[`: {grown} bytes ({} per token)", grown / N as isize);
    assert!(grown <= PER_TOKEN * N as isize, "{grown} bytes for {N} tokens ({} per token)", grown / N as isize);
    // Linear, not quadratic: the second half costs about what the first did.
    assert!(grown - at_half <= 2 * at_half + (1 << 20), "first half {at_half} bytes, second half {}", grown - at_half);
    session.rollback(N).unwrap();
    assert!(session.text().is_empty());
    session.accept_token(open).unwrap();
    session.rollback(1).unwrap();
    // What stays is the capacity of the text and history buffers: a few words per token, not
    // the stack nodes and checkpoints.
    assert!(live_bytes() - before <= 24 * N as isize, "{} bytes still held after rolling everything back", live_bytes() - before);
}
