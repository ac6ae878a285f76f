// apply_bitmask.cu: set the logits of disallowed tokens to -inf, in place.
//
// Part of syncodec-cuda. Compiled at run time with NVRTC (the Rust crate
// embeds this file with include_str!). The file includes no header: the
// kernel does no floating-point arithmetic, it only moves bit patterns, so
// f32 logits are handled as 32-bit words and f16 / bf16 logits as 16-bit
// words, with the -inf bit pattern passed in by the host (0xFF800000,
// 0xFC00, 0xFF80). Because it needs nothing from the CUDA headers, the same
// source also compiles as plain C++ for the host-side emulation test.
//
// Semantics (identical to syncodec_runtime::apply):
//   logits  [n_logit_rows, width], row r starting at element r * row_stride
//   mask    [n_mask_rows, mask_words] u32 words; token t of mask row i is
//           allowed iff bit (t & 31) of word i * mask_words + (t >> 5) is set
//   indices optional [n_mask_rows] i32: mask row i applies to logits row
//           indices[i]; without indices, to logits row i. Out-of-range
//           indices are skipped (the host API validates what it can see).
//   Disallowed tokens become -inf; tokens t >= 32 * mask_words (a logits row
//   wider than the mask) become -inf; mask bits past `width` are ignored;
//   allowed logits and the row padding (width..row_stride) are not touched.
//
// Work decomposition: grid.y walks mask rows (with a stride loop, so more
// rows than the 65535 grid.y limit work), grid.x walks the row in tiles of
// THREADS * UNROLL vectors of 16 bytes (4 f32 or 8 f16/bf16 logits). Within
// a tile, vector u of thread t is tile + u * THREADS + t, so every load and
// store of a warp is coalesced. Per vector the thread extracts its 4 or 8
// mask bits from one mask word (a warp reads 16 or 32 contiguous bytes of
// mask), then:
//   all bits set   -> nothing is read or written;
//   no bit set     -> one 16-byte store of -inf, no read;
//   mixed          -> 16-byte load, per-lane select, 16-byte store.
// All mask loads of a thread are issued before its logits loads, and all
// logits loads before the stores, so UNROLL requests are in flight per
// thread. The vector path needs the row base to be 16-byte aligned
// (`vec_ok`, decided by the host from the pointer and the row stride); the
// last, partial vector of a row and every vector of an unaligned batch take
// the scalar path, one element at a time.

typedef unsigned int sc_u32;
typedef unsigned short sc_u16;
typedef unsigned long long sc_u64;
typedef long long sc_i64;

#define SC_THREADS 256

struct alignas(16) sc_vec4 {
    sc_u32 x, y, z, w;
};

// Elements of type E per 16-byte vector, and the mask for one 32-bit lane of
// the vector: all ones where the element is kept.
template <typename E>
struct sc_traits;

template <>
struct sc_traits<sc_u32> {
    enum { ELEMS = 4 };
    static __device__ __forceinline__ sc_u32 lane_keep(sc_u32 bits, int lane) {
        return ((bits >> lane) & 1u) ? 0xFFFFFFFFu : 0u;
    }
};

template <>
struct sc_traits<sc_u16> {
    enum { ELEMS = 8 };
    static __device__ __forceinline__ sc_u32 lane_keep(sc_u32 bits, int lane) {
        sc_u32 lo = ((bits >> (2 * lane)) & 1u) ? 0x0000FFFFu : 0u;
        sc_u32 hi = ((bits >> (2 * lane + 1)) & 1u) ? 0xFFFF0000u : 0u;
        return lo | hi;
    }
};

template <typename E>
__device__ __forceinline__ sc_u32 sc_select(sc_u32 x, sc_u32 bits, int lane, sc_u32 ninf_lane) {
    sc_u32 keep = sc_traits<E>::lane_keep(bits, lane);
    return (x & keep) | (ninf_lane & ~keep);
}

template <typename E, int UNROLL>
__device__ __forceinline__ void sc_apply_bitmask(
    E* __restrict__ logits,
    sc_u64 row_stride,
    sc_u64 n_logit_rows,
    sc_u32 width,
    const sc_u32* __restrict__ mask,
    sc_u32 mask_words,
    const int* __restrict__ indices,
    sc_u64 n_mask_rows,
    sc_u32 neg_inf_bits,
    int vec_ok)
{
    const int ELEMS = sc_traits<E>::ELEMS;
    const sc_u32 FULL = (1u << ELEMS) - 1u;
    const E neg_inf = (E)neg_inf_bits;
    // -inf replicated over a 32-bit lane (two copies for 16-bit types).
    const sc_u32 ninf_lane =
        (sizeof(E) == 4) ? neg_inf_bits : ((neg_inf_bits & 0xFFFFu) | (neg_inf_bits << 16));
    const sc_u32 tile = blockIdx.x * (sc_u32)(SC_THREADS * UNROLL);

    for (sc_u64 mrow = blockIdx.y; mrow < n_mask_rows; mrow += gridDim.y) {
        const sc_i64 row = indices ? (sc_i64)indices[mrow] : (sc_i64)mrow;
        if (row < 0 || (sc_u64)row >= n_logit_rows) {
            continue;
        }
        E* __restrict__ rowp = logits + (sc_u64)row * row_stride;
        const sc_u32* __restrict__ mrowp = mask + mrow * (sc_u64)mask_words;

        // 1. Mask bits of every vector of this thread.
        sc_u32 bits[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const sc_u32 col = (tile + u * SC_THREADS + threadIdx.x) * ELEMS;
            const sc_u32 word = col >> 5;
            bits[u] = (col < width && word < mask_words) ? ((mrowp[word] >> (col & 31u)) & FULL) : 0u;
        }

        // 2. Loads for the vectors that need one.
        sc_vec4 v[UNROLL];
        bool vec[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const sc_u32 col = (tile + u * SC_THREADS + threadIdx.x) * ELEMS;
            vec[u] = vec_ok && col < width && width - col >= (sc_u32)ELEMS;
            if (vec[u] && bits[u] != 0u && bits[u] != FULL) {
                v[u] = *reinterpret_cast<const sc_vec4*>(rowp + col);
            }
        }

        // 3. Stores.
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const sc_u32 col = (tile + u * SC_THREADS + threadIdx.x) * ELEMS;
            if (col >= width || bits[u] == FULL) {
                continue;
            }
            if (vec[u]) {
                sc_vec4 out;
                if (bits[u] == 0u) {
                    out.x = ninf_lane;
                    out.y = ninf_lane;
                    out.z = ninf_lane;
                    out.w = ninf_lane;
                } else {
                    out.x = sc_select<E>(v[u].x, bits[u], 0, ninf_lane);
                    out.y = sc_select<E>(v[u].y, bits[u], 1, ninf_lane);
                    out.z = sc_select<E>(v[u].z, bits[u], 2, ninf_lane);
                    out.w = sc_select<E>(v[u].w, bits[u], 3, ninf_lane);
                }
                *reinterpret_cast<sc_vec4*>(rowp + col) = out;
            } else {
                for (int k = 0; k < ELEMS && col + k < width; ++k) {
                    if (((bits[u] >> k) & 1u) == 0u) {
                        rowp[col + k] = neg_inf;
                    }
                }
            }
        }
    }
}

// Entry points. b32: f32 logits; b16: f16 and bf16 logits. u1 / u4: one or
// four vectors per thread (the host picks u1 for small launches, so that
// they still spread over every SM, and u4 for large ones).
#define SC_ENTRY(NAME, E, UNROLL)                                                        \
    extern "C" __global__ void __launch_bounds__(SC_THREADS) NAME(                       \
        E* logits, sc_u64 row_stride, sc_u64 n_logit_rows, sc_u32 width,                  \
        const sc_u32* mask, sc_u32 mask_words, const int* indices, sc_u64 n_mask_rows,    \
        sc_u32 neg_inf_bits, int vec_ok)                                                  \
    {                                                                                     \
        sc_apply_bitmask<E, UNROLL>(logits, row_stride, n_logit_rows, width, mask,        \
                                    mask_words, indices, n_mask_rows, neg_inf_bits,       \
                                    vec_ok);                                              \
    }

SC_ENTRY(syncodec_apply_bitmask_b32_u1, sc_u32, 1)
SC_ENTRY(syncodec_apply_bitmask_b32_u4, sc_u32, 4)
SC_ENTRY(syncodec_apply_bitmask_b16_u1, sc_u16, 1)
SC_ENTRY(syncodec_apply_bitmask_b16_u4, sc_u16, 4)
