// Host emulation of kernels/apply_bitmask.cu: compiles the kernel as plain C++,
// runs every (block, thread) of a launch sequentially (the kernel uses no
// shared memory and no barriers, so this is exact) and compares with a naive
// reference on random shapes, masks, strides, indices and misalignments.
// Run by tests/kernel_emulation.rs when a C++ compiler is available.
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>
#include <random>
struct sc_dim3 { unsigned x, y, z; };
static sc_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#include "apply_bitmask.cu"

typedef void (*K32)(sc_u32*, sc_u64, sc_u64, sc_u32, const sc_u32*, sc_u32, const int*, sc_u64, sc_u32, int);
typedef void (*K16)(sc_u16*, sc_u64, sc_u64, sc_u32, const sc_u32*, sc_u32, const int*, sc_u64, sc_u32, int);

template <typename E, typename K>
void launch(K k, int unroll, unsigned ycap, E* logits, sc_u64 stride, sc_u64 rows, sc_u32 width,
            const sc_u32* mask, sc_u32 mw, const int* idx, sc_u64 mrows, sc_u32 ninf, int vec_ok) {
    const unsigned elems = 16 / sizeof(E);
    sc_u64 nvec = (width + elems - 1) / elems;
    sc_u64 per_block = 256ull * unroll;
    unsigned gx = (unsigned)((nvec + per_block - 1) / per_block);
    unsigned gy = (unsigned)(mrows < ycap ? mrows : ycap);
    if (gx == 0 || gy == 0) return;
    gridDim = {gx, gy, 1}; blockDim = {256, 1, 1};
    for (unsigned by = 0; by < gy; ++by)
        for (unsigned bx = 0; bx < gx; ++bx)
            for (unsigned t = 0; t < 256; ++t) {
                blockIdx = {bx, by, 0}; threadIdx = {t, 0, 0};
                k(logits, stride, rows, width, mask, mw, idx, mrows, ninf, vec_ok);
            }
}

template <typename E>
void naive(E* logits, sc_u64 stride, sc_u64 rows, sc_u32 width, const sc_u32* mask, sc_u32 mw,
           const int* idx, sc_u64 mrows, E ninf) {
    for (sc_u64 i = 0; i < mrows; ++i) {
        long long r = idx ? idx[i] : (long long)i;
        if (r < 0 || (sc_u64)r >= rows) continue;
        for (sc_u32 t = 0; t < width; ++t) {
            bool ok = (t / 32 < mw) && ((mask[i * mw + t / 32] >> (t % 32)) & 1);
            if (!ok) logits[r * stride + t] = ninf;
        }
    }
}

int main() {
    std::mt19937_64 rng(42);
    long cases = 0, failures = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        bool b16 = rng() & 1;
        int unroll = (rng() & 1) ? 4 : 1;
        sc_u64 rows = 1 + rng() % 5;
        sc_u32 width = (iter % 10 == 0) ? 32000 + rng() % 20 : rng() % 2100;
        sc_u32 pad = rng() % 3 == 0 ? 0 : rng() % 20;
        sc_u64 stride = width + pad;
        sc_u32 mw = (width + 31) / 32;
        switch (rng() % 4) { case 0: mw = mw > 0 ? mw - rng() % (mw + 1) : 0; break; case 1: mw += rng() % 3; break; default: break; }
        bool use_idx = rng() & 1;
        std::vector<int> idx;
        sc_u64 mrows = rows;
        if (use_idx) { mrows = rng() % 7; for (sc_u64 i = 0; i < mrows; ++i) idx.push_back((int)(rng() % (rows + 2)) - (rng() % 8 == 0 ? 3 : 0)); }
        std::vector<sc_u32> mask(mrows * mw + 1);
        int kind = rng() % 3;
        for (auto& w : mask) { int c = rng() % 4; w = kind == 0 ? (sc_u32)rng() : c == 0 ? 0u : c == 1 ? ~0u : (sc_u32)rng(); }
        unsigned ycap = (rng() % 3 == 0) ? 2 : 65535;
        // Offset the base by one element sometimes: breaks 16-byte alignment.
        size_t esz = b16 ? 2 : 4;
        bool misalign = rng() % 4 == 0;
        size_t off = misalign ? 1 : 0;
        sc_u64 n = rows * stride + off + 16;
        int vec_ok = (!misalign && (stride * esz) % 16 == 0) ? 1 : 0;
        const int* ip = use_idx ? idx.data() : nullptr;
        ++cases;
        if (b16) {
            std::vector<sc_u16> a(n), b;
            for (auto& x : a) x = (sc_u16)rng();
            b = a;
            sc_u16 ninf = (rng() & 1) ? 0xFC00 : 0xFF80;
            launch<sc_u16>((K16)(unroll == 4 ? syncodec_apply_bitmask_b16_u4 : syncodec_apply_bitmask_b16_u1), unroll, ycap,
                           a.data() + off, stride, rows, width, mask.data(), mw, ip, mrows, ninf, vec_ok);
            naive<sc_u16>(b.data() + off, stride, rows, width, mask.data(), mw, ip, mrows, ninf);
            if (a != b) { ++failures; printf("FAIL b16 iter %d width %u stride %llu mw %u rows %llu unroll %d\n", iter, width, stride, mw, rows, unroll); }
        } else {
            std::vector<sc_u32> a(n), b;
            for (auto& x : a) x = (sc_u32)rng();
            b = a;
            launch<sc_u32>((K32)(unroll == 4 ? syncodec_apply_bitmask_b32_u4 : syncodec_apply_bitmask_b32_u1), unroll, ycap,
                           a.data() + off, stride, rows, width, mask.data(), mw, ip, mrows, 0xFF800000u, vec_ok);
            naive<sc_u32>(b.data() + off, stride, rows, width, mask.data(), mw, ip, mrows, 0xFF800000u);
            if (a != b) { ++failures; printf("FAIL b32 iter %d width %u stride %llu mw %u rows %llu unroll %d\n", iter, width, stride, mw, rows, unroll); }
        }
    }
    printf("%ld cases, %ld failures\n", cases, failures);
    return failures != 0;
}
