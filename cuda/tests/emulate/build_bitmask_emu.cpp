// Host emulation of kernels/build_bitmask.cu (the build kernel): compiles
// apply_bitmask.cu + build_bitmask.cu as plain C++ and runs every block of a
// launch with its 256 threads as coroutines (ucontext), so __syncthreads is
// honored: a thread runs until it reaches a barrier (or returns), then the
// next thread runs; when every thread waits at the barrier they are all
// released. The order in which threads run between two barriers is forward,
// reverse or a fresh random permutation per phase (chosen per case), so a
// missing barrier shows up as a wrong result. Threads that do not all call
// __syncthreads the same number of times (a divergent barrier, undefined on
// a GPU) are reported: some return while others still wait. (Barrier call
// sites are not compared: the C++ optimizer may duplicate a call site along
// thread-dependent paths.) Shared memory is a static array shared by the
// block's coroutines; atomics are plain read-modify-writes (coroutines never
// interleave inside one).
//
// The Rust test (tests/kernel_emulation.rs) writes the cases, with launch
// shapes computed by the crate's own launch-shape function, into a file of
// little-endian u32 words; this program runs each case and writes the
// resulting bitmask rows and logits to the output file, and the Rust side
// compares them with build_bitmask_cpu (+ syncodec_runtime::apply for the
// fused kernel). Case layout (u32 words):
//   magic 0x53434231 ("SCB1"), n_cases, then per case:
//   mode (0 build, 1 fused b32, 2 fused b16), schedule (0 fwd, 1 rev, 2 random),
//   seed, grid_x, grid_y, tile_words,
//   n_tokens, out_words, n_masks, data_len, kinds[n_masks], offsets[n_masks+1], data[data_len],
//   desc_rows, n_rows, desc_len, desc[desc_len], write_out,
//   if fused: width, row_stride, n_logit_rows, has_indices, indices[n_rows] if has_indices,
//             neg_inf_bits, vec_ok, logits_offset, logits_len, logits[logits_len]
//             (one word per element; f16/bf16 in the low 16 bits)
// Output per case: status (0 ok, 1 divergent barrier), then out[n_rows * out_words]
// if write_out, then logits[logits_len] if fused.
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <random>
#include <algorithm>
#include <ucontext.h>

struct sc_dim3 { unsigned x, y, z; };
static sc_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
static void __syncthreads();
static inline unsigned atomicOr(unsigned* p, unsigned v) { unsigned o = *p; *p = o | v; return o; }
static inline unsigned atomicAnd(unsigned* p, unsigned v) { unsigned o = *p; *p = o & v; return o; }
static inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
#include "apply_bitmask.cu"
#include "build_bitmask.cu"

// ---- coroutine block scheduler ----
enum { NT = SC_BUILD_THREADS, STACK = 64 * 1024 };
enum { RUNNABLE = 0, AT_BARRIER = 1, DONE = 2 };
static ucontext_t sched_ctx, th_ctx[NT];
static int th_state[NT];
static unsigned cur;
static std::vector<char> stacks((size_t)NT * STACK);
static void (*body)();

static void __syncthreads() {
    th_state[cur] = AT_BARRIER;
    swapcontext(&th_ctx[cur], &sched_ctx);
    threadIdx = {cur, 0, 0};
}

static void trampoline() {
    body();
    th_state[cur] = DONE;  // uc_link returns to the scheduler
}

// Runs one block; returns false on a divergent barrier.
static bool run_block(int schedule, std::mt19937_64& rng) {
    for (unsigned t = 0; t < NT; ++t) {
        getcontext(&th_ctx[t]);
        th_ctx[t].uc_stack.ss_sp = &stacks[(size_t)t * STACK];
        th_ctx[t].uc_stack.ss_size = STACK;
        th_ctx[t].uc_link = &sched_ctx;
        makecontext(&th_ctx[t], trampoline, 0);
        th_state[t] = RUNNABLE;
    }
    std::vector<unsigned> order(NT);
    for (;;) {
        for (unsigned t = 0; t < NT; ++t) order[t] = t;
        if (schedule == 1) std::reverse(order.begin(), order.end());
        if (schedule == 2) std::shuffle(order.begin(), order.end(), rng);
        for (unsigned t : order) {
            if (th_state[t] != RUNNABLE) continue;
            cur = t;
            threadIdx = {t, 0, 0};
            swapcontext(&sched_ctx, &th_ctx[t]);
        }
        int at = 0, done = 0;
        for (unsigned t = 0; t < NT; ++t) {
            at += th_state[t] == AT_BARRIER;
            done += th_state[t] == DONE;
        }
        if (done == NT) return true;
        if (done != 0) return false;  // some threads returned while others wait
        for (unsigned t = 0; t < NT; ++t) th_state[t] = RUNNABLE;
    }
}

// ---- the launch being emulated ----
struct Launch {
    unsigned mode;
    std::vector<sc_u8> kinds;
    std::vector<sc_u32> offsets, data, desc, out, logits32;
    std::vector<sc_u16> logits16;
    std::vector<int> indices;
    sc_u32 n_masks, n_tokens, out_words, tile_words, width, neg_inf, logits_offset;
    sc_u64 desc_rows, n_rows, row_stride, n_logit_rows;
    int has_indices, vec_ok, write_out;
};
static Launch L;

static void call_kernel() {
    sc_u32* out = L.write_out ? L.out.data() : nullptr;
    const int* ix = L.has_indices ? L.indices.data() : nullptr;
    // Empty vectors still need a valid pointer for the kernel's arithmetic.
    const sc_u8* kinds = L.kinds.empty() ? nullptr : L.kinds.data();
    switch (L.mode) {
    case 0:
        syncodec_build_bitmask(kinds, L.offsets.data(), L.data.data(), L.n_masks, L.n_tokens, L.desc.data(),
                               L.desc_rows, L.n_rows, out, L.out_words, L.tile_words);
        break;
    case 1:
        syncodec_build_apply_b32(kinds, L.offsets.data(), L.data.data(), L.n_masks, L.n_tokens, L.desc.data(),
                                 L.desc_rows, L.n_rows, out, L.out_words, L.tile_words, L.logits32.data() + L.logits_offset,
                                 L.row_stride, L.n_logit_rows, L.width, ix, L.neg_inf, L.vec_ok);
        break;
    default:
        syncodec_build_apply_b16(kinds, L.offsets.data(), L.data.data(), L.n_masks, L.n_tokens, L.desc.data(),
                                 L.desc_rows, L.n_rows, out, L.out_words, L.tile_words, L.logits16.data() + L.logits_offset,
                                 L.row_stride, L.n_logit_rows, L.width, ix, (sc_u16)L.neg_inf, L.vec_ok);
        break;
    }
}

// ---- I/O ----
static std::vector<sc_u32> in;
static size_t pos;
static sc_u32 rd() {
    if (pos >= in.size()) { fprintf(stderr, "truncated input\n"); exit(2); }
    return in[pos++];
}
static void rdv(std::vector<sc_u32>& v, size_t n) { v.resize(n); for (auto& x : v) x = rd(); }

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s CASES OUT\n", argv[0]); return 2; }
    FILE* f = fopen(argv[1], "rb");
    if (!f) { perror("cases"); return 2; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    in.resize((size_t)n / 4);
    if (fread(in.data(), 4, in.size(), f) != in.size()) { fprintf(stderr, "short read\n"); return 2; }
    fclose(f);
    if (rd() != 0x53434231u) { fprintf(stderr, "bad magic\n"); return 2; }
    sc_u32 n_cases = rd();
    std::vector<sc_u32> result;
    long blocks = 0, divergent = 0;
    body = call_kernel;
    for (sc_u32 c = 0; c < n_cases; ++c) {
        L = Launch();
        L.mode = rd();
        int schedule = (int)rd();
        std::mt19937_64 rng(rd());
        sc_u32 gx = rd(), gy = rd();
        L.tile_words = rd();
        L.n_tokens = rd();
        L.out_words = rd();
        L.n_masks = rd();
        sc_u32 data_len = rd();
        std::vector<sc_u32> k;
        rdv(k, L.n_masks);
        L.kinds.assign(k.begin(), k.end());
        rdv(L.offsets, (size_t)L.n_masks + 1);
        rdv(L.data, data_len);
        if (L.data.empty()) L.data.push_back(0xDEADBEEFu);
        L.desc_rows = rd();
        L.n_rows = rd();
        rdv(L.desc, rd());
        L.write_out = (int)rd();
        // Poisoned: every word the kernel should write is compared.
        L.out.assign((size_t)L.n_rows * L.out_words, 0xA5A5A5A5u);
        if (L.mode != 0) {
            L.width = rd();
            L.row_stride = rd();
            L.n_logit_rows = rd();
            L.has_indices = (int)rd();
            if (L.has_indices) {
                std::vector<sc_u32> ix;
                rdv(ix, (size_t)L.n_rows);
                L.indices.assign(ix.begin(), ix.end());
                if (L.indices.empty()) L.indices.push_back(0);
            }
            L.neg_inf = rd();
            L.vec_ok = (int)rd();
            L.logits_offset = rd();
            std::vector<sc_u32> lg;
            rdv(lg, rd());
            if (L.mode == 1) L.logits32 = lg;
            else L.logits16.assign(lg.begin(), lg.end());
        }
        bool ok = true;
        gridDim = {gx, gy, 1};
        blockDim = {NT, 1, 1};
        for (unsigned by = 0; by < gy && ok; ++by)
            for (unsigned bx = 0; bx < gx && ok; ++bx) {
                blockIdx = {bx, by, 0};
                ok = run_block(schedule, rng);
                ++blocks;
            }
        if (!ok) ++divergent;
        result.push_back(ok ? 0u : 1u);
        if (L.write_out) result.insert(result.end(), L.out.begin(), L.out.end());
        if (L.mode == 1) result.insert(result.end(), L.logits32.begin(), L.logits32.end());
        if (L.mode == 2) result.insert(result.end(), L.logits16.begin(), L.logits16.end());
    }
    if (pos != in.size()) { fprintf(stderr, "trailing input\n"); return 2; }
    FILE* o = fopen(argv[2], "wb");
    if (!o) { perror("out"); return 2; }
    fwrite(result.data(), 4, result.size(), o);
    fclose(o);
    printf("%u cases, %ld blocks emulated, %ld divergent barriers\n", n_cases, blocks, divergent);
    return 0;
}
