// build_bitmask.cu: build bitmask rows on the device from a device-resident
// mask store and compact per-row descriptions, and optionally apply them to
// the logits in the same kernel.
//
// The build kernel of syncodec-cuda. This file is compiled by NVRTC *after*
// apply_bitmask.cu, in the same translation unit (the Rust crate concatenates
// the two sources): it reuses that file's typedefs, sc_vec4, sc_traits and
// sc_select. Like apply_bitmask.cu it includes no header and does no
// floating-point arithmetic, so the host emulation test compiles the pair as
// plain C++ (tests/emulate/build_bitmask_emu.cpp).
//
// Mask store (uploaded once per artifact, normalized on the host):
//   kinds[m]      0 = dense, 1 = sparse, for m < n_masks
//   offsets[m]    n_masks + 1 non-decreasing offsets into data
//   data          dense mask: exactly ceil(n_tokens / 32) words, bit t & 31
//                 of word t >> 5; sparse mask: strictly increasing token ids,
//                 every one < n_tokens (the host checks both at upload).
//
// Packed descriptions of B = desc_rows rows (one u32 buffer, uploaded per
// step; the kernel builds the first n_rows <= B of them):
//   desc[0 ..= B]               mask_offsets  (absolute indices into desc)
//   desc[B+1 ..= 2B+1]          set_offsets
//   desc[2B+2 ..= 3B+2]         clear_offsets
//   then the mask ids, set tokens and clear tokens of every row.
//   Row r = OR of the stored masks desc[mask_offsets[r] .. mask_offsets[r+1]],
//   then the tokens desc[set_offsets[r] .. set_offsets[r+1]] set, then the
//   tokens desc[clear_offsets[r] .. clear_offsets[r+1]] cleared; bits of ids
//   >= n_tokens are always 0. A mask id >= n_masks is skipped (the host API
//   rejects such ids before uploading); a set or clear id >= n_tokens changes
//   nothing. This is exactly syncodec_cuda::build_bitmask_cpu.
//
// Output: row r of `out` is out[r * out_words ..][.. out_words], out_words =
// ceil(vocab width / 32) >= ceil(n_tokens / 32); out may be null in the fused
// kernel (then only the logits are written).
//
// Fused apply (same semantics as apply_bitmask.cu): description row r applies
// to logits row indices ? indices[r] : r (out-of-range indices skip the
// logits, `out` is still written); logits of disallowed tokens and of columns
// >= 32 * out_words become -inf; the row padding (width..row_stride) is never
// touched.
//
// Work decomposition: grid.y walks description rows (stride loop for more
// than 65535 rows), grid.x walks each row in tiles of `tile_words` mask words
// (32 * tile_words tokens; the host picks 32..1024 so that small batches
// still cover every SM). A block builds its tile in shared memory:
//   0. the tile is zeroed;                                   __syncthreads
//   1. the row's mask ids are spread over the threads, one each: a dense
//      mask's data offset goes to a list in shared memory; a sparse mask is
//      binary-searched (sorted ids) for the ids inside the tile, which the
//      thread atomicOr's into the tile. Then the set tokens, one per thread,
//      atomicOr'd when inside the tile;                      __syncthreads
//   2. dense OR: thread j ORs word j of every listed dense mask into tile
//      word j (coalesced reads) and clears the bits past n_tokens; a row
//      with more than SC_DENSE_MAX dense masks rescans its ids;
//                                                            __syncthreads
//   3. clear tokens: atomicAnd;                              __syncthreads
//   4. the tile goes to `out`, and/or is applied to the logits exactly as
//      apply_bitmask.cu does (16-byte vectors, all-set vectors skipped,
//      all-clear vectors stored without a read, scalar tails);
//                                                            __syncthreads
// Work per row and tile: one pass over the row's mask ids (not one per
// thread), two binary searches per sparse mask, the sparse ids that fall in
// the tile, one word read per dense mask and tile word.
// The barriers are unconditional and the row loop is uniform over the block,
// so every thread reaches every barrier.

typedef unsigned char sc_u8;

#define SC_BUILD_THREADS 256
// Largest tile in mask words (4 KiB of shared memory).
#define SC_TILE_MAX 1024
// Dense masks of one row listed in shared memory; rows with more are
// handled by a slower path.
#define SC_DENSE_MAX 256
// Vectors of 16 bytes each thread handles per apply iteration.
#define SC_BUILD_UNROLL 4

// First index i in [lo, hi) with a[i] >= key (hi when none).
__device__ __forceinline__ sc_u32 sc_lower_bound(const sc_u32* a, sc_u32 lo, sc_u32 hi, sc_u64 key)
{
    while (lo < hi) {
        const sc_u32 mid = lo + (hi - lo) / 2u;
        if ((sc_u64)a[mid] < key) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo;
}

template <typename E, bool APPLY>
__device__ __forceinline__ void sc_build_rows(
    const sc_u8* __restrict__ kinds,
    const sc_u32* __restrict__ offsets,
    const sc_u32* __restrict__ data,
    sc_u32 n_masks,
    sc_u32 n_tokens,
    const sc_u32* __restrict__ desc,
    sc_u64 desc_rows,
    sc_u64 n_rows,
    sc_u32* __restrict__ out,
    sc_u32 out_words,
    sc_u32 tile_words,
    E* __restrict__ logits,
    sc_u64 row_stride,
    sc_u64 n_logit_rows,
    sc_u32 width,
    const int* __restrict__ indices,
    sc_u32 neg_inf_bits,
    int vec_ok)
{
    __shared__ sc_u32 tile[SC_TILE_MAX];
    // Data offsets of the row's dense masks (phase 2 reads only these).
    __shared__ sc_u32 dense_off[SC_DENSE_MAX];
    __shared__ sc_u32 n_dense;

    const sc_u32 tid = threadIdx.x;
    const sc_u32 w0 = blockIdx.x * tile_words;
    const sc_u32 dense_words = (n_tokens + 31u) / 32u;
    // Tokens of this tile: [tok_lo, tok_hi). 64-bit: 32 * (w0 + tile_words)
    // may pass 2^32 for the last tile of a huge vocabulary.
    const sc_u64 tok_lo = (sc_u64)w0 * 32u;
    const sc_u64 tok_hi = ((sc_u64)w0 + tile_words) * 32u;
    const sc_u64 set_base = desc_rows + 1u;
    const sc_u64 clear_base = 2u * (desc_rows + 1u);

    for (sc_u64 r = blockIdx.y; r < n_rows; r += gridDim.y) {
        const sc_u32 m0 = desc[r], m1 = desc[r + 1u];
        const sc_u32 s0 = desc[set_base + r], s1 = desc[set_base + r + 1u];
        const sc_u32 c0 = desc[clear_base + r], c1 = desc[clear_base + r + 1u];

        // 0. Empty tile.
        for (sc_u32 j = tid; j < tile_words; j += SC_BUILD_THREADS) {
            tile[j] = 0u;
        }
        if (tid == 0) {
            n_dense = 0u;
        }
        __syncthreads();

        // 1. One mask id per thread: a dense mask is listed for phase 2; a
        //    sparse one is searched (its ids are sorted) for the ids in this
        //    tile, which the thread ORs in. Then the set tokens, one per
        //    thread.
        for (sc_u32 k = m0 + tid; k < m1; k += SC_BUILD_THREADS) {
            const sc_u32 m = desc[k];
            if (m >= n_masks) {
                continue;
            }
            if (kinds[m] == 0) {
                const sc_u32 slot = atomicAdd(&n_dense, 1u);
                if (slot < SC_DENSE_MAX) {
                    dense_off[slot] = offsets[m];
                }
            } else {
                const sc_u32 a = sc_lower_bound(data, offsets[m], offsets[m + 1u], tok_lo);
                const sc_u32 b = sc_lower_bound(data, a, offsets[m + 1u], tok_hi);
                for (sc_u32 i = a; i < b; ++i) {
                    const sc_u32 t = data[i];
                    if (t < n_tokens) {
                        atomicOr(&tile[(t >> 5) - w0], 1u << (t & 31u));
                    }
                }
            }
        }
        for (sc_u32 i = s0 + tid; i < s1; i += SC_BUILD_THREADS) {
            const sc_u32 t = desc[i];
            if (t < n_tokens && (sc_u64)t >= tok_lo && (sc_u64)t < tok_hi) {
                atomicOr(&tile[(t >> 5) - w0], 1u << (t & 31u));
            }
        }
        __syncthreads();

        // 2. Dense OR, one word per thread (coalesced reads), and the bits
        //    past n_tokens cleared. More dense masks than the list holds:
        //    scan the row's ids again.
        const sc_u32 nd = n_dense;
        for (sc_u32 j = tid; j < tile_words; j += SC_BUILD_THREADS) {
            const sc_u32 w = w0 + j;
            sc_u32 acc = tile[j];
            if (w < dense_words) {
                if (nd <= SC_DENSE_MAX) {
                    for (sc_u32 d = 0; d < nd; ++d) {
                        acc |= data[dense_off[d] + w];
                    }
                } else {
                    for (sc_u32 k = m0; k < m1; ++k) {
                        const sc_u32 m = desc[k];
                        if (m < n_masks && kinds[m] == 0) {
                            acc |= data[offsets[m] + w];
                        }
                    }
                }
                if (w == dense_words - 1u && (n_tokens & 31u) != 0u) {
                    acc &= (1u << (n_tokens & 31u)) - 1u;
                }
            } else {
                acc = 0u;
            }
            tile[j] = acc;
        }
        __syncthreads();

        // 3. Clear tokens.
        for (sc_u32 i = c0 + tid; i < c1; i += SC_BUILD_THREADS) {
            const sc_u32 t = desc[i];
            if (t < n_tokens && (sc_u64)t >= tok_lo && (sc_u64)t < tok_hi) {
                atomicAnd(&tile[(t >> 5) - w0], ~(1u << (t & 31u)));
            }
        }
        __syncthreads();

        // 4a. The bitmask row.
        if (out) {
            sc_u32* orow = out + r * (sc_u64)out_words;
            for (sc_u32 j = tid; j < tile_words && w0 + j < out_words; j += SC_BUILD_THREADS) {
                orow[w0 + j] = tile[j];
            }
        }

        // 4b. The logits row (fused kernel only).
        if (APPLY) {
            const sc_i64 lrow = indices ? (sc_i64)indices[r] : (sc_i64)r;
            if (lrow >= 0 && (sc_u64)lrow < n_logit_rows && tok_lo < (sc_u64)width) {
                const int ELEMS = sc_traits<E>::ELEMS;
                const sc_u32 FULL = (1u << ELEMS) - 1u;
                const E neg_inf = (E)neg_inf_bits;
                const sc_u32 ninf_lane =
                    (sizeof(E) == 4) ? neg_inf_bits : ((neg_inf_bits & 0xFFFFu) | (neg_inf_bits << 16));
                E* __restrict__ rowp = logits + (sc_u64)lrow * row_stride;
                const sc_u32 col0 = (sc_u32)tok_lo;
                const sc_u32 span = 32u * tile_words;
                const sc_u32 cols = (width - col0 < span) ? (width - col0) : span;
                const sc_u32 nvec = (cols + ELEMS - 1u) / ELEMS;

                for (sc_u32 base = 0; base < nvec; base += SC_BUILD_THREADS * SC_BUILD_UNROLL) {
                    // Mask bits of each vector; vectors past the tile are
                    // marked FULL (nothing to do).
                    sc_u32 bits[SC_BUILD_UNROLL];
#pragma unroll
                    for (int u = 0; u < SC_BUILD_UNROLL; ++u) {
                        const sc_u32 v = base + u * SC_BUILD_THREADS + tid;
                        const sc_u32 bit = v * ELEMS;
                        bits[u] = (v < nvec) ? ((tile[bit >> 5] >> (bit & 31u)) & FULL) : FULL;
                    }
                    sc_vec4 x[SC_BUILD_UNROLL];
                    bool vec[SC_BUILD_UNROLL];
#pragma unroll
                    for (int u = 0; u < SC_BUILD_UNROLL; ++u) {
                        const sc_u32 col = col0 + (base + u * SC_BUILD_THREADS + tid) * ELEMS;
                        vec[u] = vec_ok && col < width && width - col >= (sc_u32)ELEMS;
                        if (vec[u] && bits[u] != 0u && bits[u] != FULL) {
                            x[u] = *reinterpret_cast<const sc_vec4*>(rowp + col);
                        }
                    }
#pragma unroll
                    for (int u = 0; u < SC_BUILD_UNROLL; ++u) {
                        const sc_u32 col = col0 + (base + u * SC_BUILD_THREADS + tid) * ELEMS;
                        if (bits[u] == FULL || col >= width) {
                            continue;
                        }
                        if (vec[u]) {
                            sc_vec4 o;
                            if (bits[u] == 0u) {
                                o.x = ninf_lane;
                                o.y = ninf_lane;
                                o.z = ninf_lane;
                                o.w = ninf_lane;
                            } else {
                                o.x = sc_select<E>(x[u].x, bits[u], 0, ninf_lane);
                                o.y = sc_select<E>(x[u].y, bits[u], 1, ninf_lane);
                                o.z = sc_select<E>(x[u].z, bits[u], 2, ninf_lane);
                                o.w = sc_select<E>(x[u].w, bits[u], 3, ninf_lane);
                            }
                            *reinterpret_cast<sc_vec4*>(rowp + col) = o;
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
        }
        // The next row reuses the tile.
        __syncthreads();
    }
}

// Build only: out must be non-null.
extern "C" __global__ void __launch_bounds__(SC_BUILD_THREADS) syncodec_build_bitmask(
    const sc_u8* kinds, const sc_u32* offsets, const sc_u32* data, sc_u32 n_masks, sc_u32 n_tokens,
    const sc_u32* desc, sc_u64 desc_rows, sc_u64 n_rows, sc_u32* out, sc_u32 out_words,
    sc_u32 tile_words)
{
    sc_build_rows<sc_u32, false>(kinds, offsets, data, n_masks, n_tokens, desc, desc_rows, n_rows, out, out_words,
                                 tile_words, (sc_u32*)0, 0u, 0u, 0u, (const int*)0, 0u, 0);
}

// Fused build + apply. b32: f32 logits; b16: f16 / bf16 logits.
#define SC_BUILD_APPLY_ENTRY(NAME, E)                                                                \
    extern "C" __global__ void __launch_bounds__(SC_BUILD_THREADS) NAME(                             \
        const sc_u8* kinds, const sc_u32* offsets, const sc_u32* data, sc_u32 n_masks,                \
        sc_u32 n_tokens, const sc_u32* desc, sc_u64 desc_rows, sc_u64 n_rows, sc_u32* out,           \
        sc_u32 out_words, sc_u32 tile_words, E* logits, sc_u64 row_stride, sc_u64 n_logit_rows,       \
        sc_u32 width, const int* indices, sc_u32 neg_inf_bits, int vec_ok)                            \
    {                                                                                                 \
        sc_build_rows<E, true>(kinds, offsets, data, n_masks, n_tokens, desc, desc_rows, n_rows, out,  \
                               out_words, tile_words, logits, row_stride, n_logit_rows, width,        \
                               indices, neg_inf_bits, vec_ok);                                        \
    }

SC_BUILD_APPLY_ENTRY(syncodec_build_apply_b32, sc_u32)
SC_BUILD_APPLY_ENTRY(syncodec_build_apply_b16, sc_u16)
