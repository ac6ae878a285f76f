//! The build kernel's device side: the mask store uploaded once
//! ([`DeviceMaskStore`]), per-step descriptions on the device
//! ([`DeviceDescriptions`]), and the [`GpuMasker`] methods that launch
//! `kernels/build_bitmask.cu`.

use std::sync::Arc;

use cudarc::driver::{
    sys, CudaContext, CudaSlice, CudaStream, CudaView, CudaViewMut, DevicePtr, DevicePtrMut,
    DeviceSlice, LaunchConfig, PushKernelArg,
};
use syncodec_runtime::apply::{ApplyError, BatchLayout, Dtype, Dtype16};
use syncodec_runtime::artifact::Artifact;

use crate::describe::{DescriptionError, HostMaskStore, PackedDescriptions};
use crate::{driver_present, guarded, GpuError, GpuMasker, MAX_WIDTH};

/// The build kernel's entry points, in the order `GpuMasker::build_funcs`
/// holds them.
pub(crate) const BUILD_ENTRY_POINTS: [&str; 3] = [
    "syncodec_build_bitmask",
    "syncodec_build_apply_b32",
    "syncodec_build_apply_b16",
];
/// Threads per block; must match `SC_BUILD_THREADS`.
pub(crate) const BUILD_THREADS: u32 = 256;
/// Largest tile in mask words; must match `SC_TILE_MAX`.
pub(crate) const TILE_MAX: u32 = 1024;

/// Launch shape of the build kernels: `(tile_words, grid_x, grid_y)` for
/// `rows` description rows whose tiles must cover `cover_words` mask words
/// (the bitmask row, or for the fused kernel `max(mask words,
/// ceil(logits width / 32))`), on a device with `sm_count` SMs. The largest
/// tile (up to 1024 words = 32768 tokens, fewer blocks re-reading the row's
/// description) that still gives at least 4 blocks per SM, else 32 words (one
/// block per 1024 tokens: B = 1, V = 128k gives 126 blocks). `grid_x` is 0
/// when there is nothing to do.
///
/// Public for the host emulation test, which launches with exactly this shape.
#[doc(hidden)]
pub fn build_launch_shape(cover_words: usize, rows: usize, sm_count: u32) -> (u32, u32, u32) {
    if cover_words == 0 || rows == 0 {
        return (32, 0, 0);
    }
    let want = 4 * sm_count.max(1) as usize;
    let tile = [TILE_MAX as usize, 512, 256, 128, 64]
        .into_iter()
        .find(|&t| cover_words.div_ceil(t).saturating_mul(rows) >= want)
        .unwrap_or(32);
    (
        tile as u32,
        cover_words.div_ceil(tile) as u32,
        rows.min(65535) as u32,
    )
}

/// An artifact's mask store in device memory, uploaded once and shared by
/// every step and every row (read only).
#[derive(Debug)]
pub struct DeviceMaskStore {
    ctx: Arc<CudaContext>,
    kinds: CudaSlice<u8>,
    offsets: CudaSlice<u32>,
    data: CudaSlice<u32>,
    n_masks: u32,
    n_tokens: u32,
    width: u32,
    device_bytes: usize,
}

impl DeviceMaskStore {
    /// Uploads `store` on `stream` (asynchronous; the copies are ordered
    /// before any later launch on the same stream, and other streams must
    /// wait for `stream` first).
    ///
    /// # Errors
    ///
    /// [`GpuError::Unavailable`] without CUDA (never panics),
    /// [`GpuError::Description`] for a vocabulary wider than the kernel's
    /// 32-bit column arithmetic, [`GpuError::Driver`] when allocation fails.
    pub fn upload(stream: &Arc<CudaStream>, store: &HostMaskStore) -> Result<Self, GpuError> {
        driver_present()?;
        if store.width() as usize > MAX_WIDTH {
            return Err(DescriptionError::TooLarge("vocabulary wider than 2^31 - 1 tokens").into());
        }
        guarded("uploading the mask store", || {
            // Zero-length allocations are avoided: one dummy element.
            let kinds = stream.clone_htod(if store.kinds().is_empty() { &[0u8][..] } else { store.kinds() })?;
            let offsets = stream.clone_htod(store.offsets())?;
            let data = stream.clone_htod(if store.data().is_empty() { &[0u32][..] } else { store.data() })?;
            Ok(DeviceMaskStore {
                ctx: stream.context().clone(),
                kinds,
                offsets,
                data,
                n_masks: store.n_masks() as u32,
                n_tokens: store.n_tokens(),
                width: store.width(),
                device_bytes: store.device_bytes(),
            })
        })
    }

    /// Checks, normalizes ([`HostMaskStore::from_artifact`]) and uploads the
    /// mask store of `artifact`.
    ///
    /// # Errors
    ///
    /// [`GpuError::Unavailable`] without CUDA (checked first),
    /// [`GpuError::Description`] for an artifact without a usable mask store,
    /// or as [`DeviceMaskStore::upload`].
    pub fn from_artifact(stream: &Arc<CudaStream>, artifact: &Artifact) -> Result<Self, GpuError> {
        driver_present()?;
        Self::upload(stream, &HostMaskStore::from_artifact(artifact)?)
    }

    /// [`DeviceMaskStore::from_artifact`] on device `ordinal`'s primary
    /// context (the one [`GpuMasker::on_device`] uses), through its default
    /// stream, synchronized before returning.
    ///
    /// # Errors
    ///
    /// [`GpuError::Unavailable`] without CUDA or without that device (never
    /// panics), else as [`DeviceMaskStore::from_artifact`].
    pub fn on_device(ordinal: usize, artifact: &Artifact) -> Result<Self, GpuError> {
        driver_present()?;
        let stream = guarded("creating a CUDA context", || {
            let ctx = CudaContext::new(ordinal).map_err(|e| {
                GpuError::Unavailable(format!("cannot create a context on device {ordinal}: {e}"))
            })?;
            Ok(ctx.default_stream())
        })?;
        let store = Self::from_artifact(&stream, artifact)?;
        guarded("synchronizing", || Ok(stream.synchronize()?))?;
        Ok(store)
    }

    /// Real token ids: `0..n_tokens`.
    pub fn n_tokens(&self) -> u32 {
        self.n_tokens
    }

    /// Vocabulary (logits) width.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Words of one bitmask row: `ceil(width / 32)`.
    pub fn words(&self) -> usize {
        self.width.div_ceil(32) as usize
    }

    /// Number of stored masks.
    pub fn n_masks(&self) -> usize {
        self.n_masks as usize
    }

    /// Device memory the store's tables occupy, in bytes.
    pub fn device_bytes(&self) -> usize {
        self.device_bytes
    }

    /// The context the store lives in.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }
}

/// Packed descriptions in device memory ([`PackedDescriptions`] uploaded).
/// [`DeviceDescriptions::update`] refills it each step, reusing the
/// allocation.
#[derive(Debug)]
pub struct DeviceDescriptions {
    ctx: Arc<CudaContext>,
    buf: CudaSlice<u32>,
    len: usize,
    rows: usize,
    /// Largest mask id and its row, checked against the store at launch.
    max_id: Option<(u32, usize)>,
}

fn max_mask_id(p: &PackedDescriptions) -> Option<(u32, usize)> {
    (0..p.rows())
        .filter_map(|r| p.mask_ids(r).iter().max().map(|&m| (m, r)))
        .max_by_key(|&(m, r)| (m, std::cmp::Reverse(r)))
}

impl DeviceDescriptions {
    /// Uploads `packed` on `stream` (asynchronous, stream-ordered).
    ///
    /// # Errors
    ///
    /// [`GpuError::Unavailable`] without CUDA, [`GpuError::Driver`].
    pub fn upload(stream: &Arc<CudaStream>, packed: &PackedDescriptions) -> Result<Self, GpuError> {
        driver_present()?;
        guarded("uploading descriptions", || {
            Ok(DeviceDescriptions {
                ctx: stream.context().clone(),
                buf: stream.clone_htod(packed.as_words())?,
                len: packed.as_words().len(),
                rows: packed.rows(),
                max_id: max_mask_id(packed),
            })
        })
    }

    /// Replaces the contents with `packed` (one host-to-device copy of
    /// [`PackedDescriptions::bytes`] bytes; reallocates, with headroom, only
    /// when it has grown past the buffer).
    ///
    /// # Errors
    ///
    /// [`GpuError::WrongContext`] when `stream` is of another context,
    /// [`GpuError::Driver`].
    pub fn update(&mut self, stream: &Arc<CudaStream>, packed: &PackedDescriptions) -> Result<(), GpuError> {
        if stream.context() != &self.ctx {
            return Err(GpuError::WrongContext);
        }
        let words = packed.as_words();
        guarded("uploading descriptions", || {
            if words.len() > self.buf.len() {
                let cap = words.len() + words.len() / 2;
                self.buf = stream.alloc_zeros::<u32>(cap)?;
            }
            let mut dst = self.buf.slice_mut(0..words.len());
            stream.memcpy_htod(words, &mut dst)?;
            Ok(())
        })?;
        self.len = words.len();
        self.rows = packed.rows();
        self.max_id = max_mask_id(packed);
        Ok(())
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes of the current descriptions (what the last upload moved).
    pub fn bytes(&self) -> usize {
        4 * self.len
    }

    /// The packed words on the device.
    pub fn as_view(&self) -> CudaView<'_, u32> {
        self.buf.slice(0..self.len)
    }

    fn check_ids(&self, n_masks: usize) -> Result<(), DescriptionError> {
        match self.max_id {
            Some((id, row)) if id as usize >= n_masks => Err(DescriptionError::MaskId { row, id, n_masks }),
            _ => Ok(()),
        }
    }
}

/// Descriptions for a build-kernel launch: on the host (uploaded by the call, on
/// the masker's stream) or already on the device.
#[derive(Clone, Copy, Debug)]
pub enum Descriptions<'a> {
    Host(&'a PackedDescriptions),
    Device(&'a DeviceDescriptions),
}

impl<'a> From<&'a PackedDescriptions> for Descriptions<'a> {
    fn from(p: &'a PackedDescriptions) -> Self {
        Descriptions::Host(p)
    }
}

impl<'a> From<&'a DeviceDescriptions> for Descriptions<'a> {
    fn from(d: &'a DeviceDescriptions) -> Self {
        Descriptions::Device(d)
    }
}

/// The logits side of a fused launch.
struct Logits {
    ptr: sys::CUdeviceptr,
    dtype: Dtype,
    layout: BatchLayout,
    indices: sys::CUdeviceptr,
}

impl GpuMasker {
    fn build_funcs(&self) -> Result<&[cudarc::driver::CudaFunction; 3], GpuError> {
        match &self.build_funcs {
            Ok(f) => Ok(f),
            Err(e) => Err(GpuError::Compile(e.to_string())),
        }
    }

    /// Builds one bitmask row per description into `out` (row `r` at word
    /// `r * store.words()`; `out` holds at least `rows * store.words()`
    /// words), asynchronously on the masker's stream. Rows equal
    /// [`crate::build_bitmask_cpu`]'s. Host descriptions are checked and
    /// uploaded by the call (stream-ordered, temporary buffer).
    ///
    /// # Errors
    ///
    /// [`GpuError::Description`] for a mask id outside the store or a short
    /// `out` (nothing launched), [`GpuError::WrongContext`],
    /// [`GpuError::Compile`] when the build kernel is not loaded,
    /// [`GpuError::Driver`].
    pub fn build_bitmask<'d>(
        &self,
        store: &DeviceMaskStore,
        descriptions: impl Into<Descriptions<'d>>,
        out: &mut impl DevicePtrMut<u32>,
    ) -> Result<(), GpuError> {
        let descriptions = descriptions.into();
        self.check_store(store)?;
        if out.stream().context() != &self.ctx {
            return Err(GpuError::WrongContext);
        }
        let rows = desc_rows(descriptions);
        let needed = rows * store.words();
        if out.len() < needed {
            return Err(DescriptionError::BufferTooShort { what: "bitmask", needed, len: out.len() }.into());
        }
        let stream = &*self.stream;
        let (out_ptr, _g) = out.device_ptr_mut(stream);
        self.with_device_desc(store, descriptions, |desc, packed_rows| {
            // SAFETY: `out` holds rows * words words (checked); the store and
            // descriptions are live buffers of this context.
            unsafe { self.launch_build(stream, store, desc, packed_rows, rows, out_ptr, None) }
        })
    }

    /// The fused build kernel: builds each description's row on the device and
    /// applies it to `f32` logits, in one launch on the masker's stream. Semantics as
    /// [`GpuMasker::apply_f32`] with the bitmask `build_bitmask` would give:
    /// description `i` applies to logits row `indices[i]` (or `i`);
    /// `layout.mask_words` must be `store.words()`. Without indices there must
    /// be at least `layout.rows` descriptions (the first `layout.rows` are
    /// used); with indices, at least `indices.len()`. `out`, when given, also
    /// receives the bitmask rows (as [`GpuMasker::build_bitmask`]).
    ///
    /// # Errors
    ///
    /// [`GpuError::Shape`] / [`GpuError::Description`] for shapes that do not
    /// fit (nothing launched), else as [`GpuMasker::build_bitmask`].
    #[allow(clippy::too_many_arguments)]
    pub fn apply_descriptions_f32<'d>(
        &self,
        logits: &mut impl DevicePtrMut<f32>,
        layout: BatchLayout,
        store: &DeviceMaskStore,
        descriptions: impl Into<Descriptions<'d>>,
        indices: Option<CudaView<'_, i32>>,
        out: Option<CudaViewMut<'_, u32>>,
    ) -> Result<(), GpuError> {
        self.apply_descriptions(logits, Dtype::F32, layout, store, descriptions.into(), indices, out)
    }

    /// [`GpuMasker::apply_descriptions_f32`] for `f16` / `bf16` logits held as
    /// `u16`.
    ///
    /// # Errors
    ///
    /// As [`GpuMasker::apply_descriptions_f32`].
    #[allow(clippy::too_many_arguments)]
    pub fn apply_descriptions_u16<'d>(
        &self,
        logits: &mut impl DevicePtrMut<u16>,
        dtype: Dtype16,
        layout: BatchLayout,
        store: &DeviceMaskStore,
        descriptions: impl Into<Descriptions<'d>>,
        indices: Option<CudaView<'_, i32>>,
        out: Option<CudaViewMut<'_, u32>>,
    ) -> Result<(), GpuError> {
        self.apply_descriptions(logits, dtype.into(), layout, store, descriptions.into(), indices, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_descriptions<T>(
        &self,
        logits: &mut impl DevicePtrMut<T>,
        dtype: Dtype,
        layout: BatchLayout,
        store: &DeviceMaskStore,
        descriptions: Descriptions<'_>,
        indices: Option<CudaView<'_, i32>>,
        mut out: Option<CudaViewMut<'_, u32>>,
    ) -> Result<(), GpuError> {
        debug_assert_eq!(dtype.size(), std::mem::size_of::<T>());
        self.check_store(store)?;
        if logits.stream().context() != &self.ctx
            || indices.as_ref().is_some_and(|ix| ix.stream().context() != &self.ctx)
            || out.as_ref().is_some_and(|o| o.stream().context() != &self.ctx)
        {
            return Err(GpuError::WrongContext);
        }
        if layout.mask_words != store.words() {
            return Err(DescriptionError::MaskWords { layout: layout.mask_words, store: store.words() }.into());
        }
        let mask_rows = indices.as_ref().map_or(layout.rows, |ix| ix.len());
        // The bitmask is built on the device: pass the length it would need.
        layout.check(logits.len(), mask_rows.saturating_mul(layout.mask_words), mask_rows)?;
        let have = desc_rows(descriptions);
        if have < mask_rows {
            return Err(DescriptionError::BufferTooShort { what: "descriptions (rows)", needed: mask_rows, len: have }.into());
        }
        if let Some(o) = &out {
            let needed = mask_rows * store.words();
            if o.len() < needed {
                return Err(DescriptionError::BufferTooShort { what: "bitmask", needed, len: o.len() }.into());
            }
        }
        let stream = &*self.stream;
        let (logits_ptr, _l) = logits.device_ptr_mut(stream);
        let (ix_ptr, _i) = match &indices {
            Some(ix) => {
                let (p, g) = ix.device_ptr(stream);
                (p, Some(g))
            }
            None => (0, None),
        };
        let (out_ptr, _o) = match &mut out {
            Some(o) => {
                let (p, g) = o.device_ptr_mut(stream);
                (p, Some(g))
            }
            None => (0, None),
        };
        self.with_device_desc(store, descriptions, |desc, packed_rows| {
            let lg = Logits { ptr: logits_ptr, dtype, layout, indices: ix_ptr };
            // SAFETY: buffer lengths checked above against `layout`,
            // `mask_rows` and the store; all buffers of this context.
            unsafe { self.launch_build(stream, store, desc, packed_rows, mask_rows, out_ptr, Some(lg)) }
        })
    }

    /// Enqueues the build kernel on `stream` for raw device pointers (for
    /// integrations holding framework tensors). `desc` points to packed
    /// descriptions of at least `rows` rows (their own row count may be
    /// larger: pass the packed row count as `packed_rows`), `out` to
    /// `rows * store.words()` words or 0, and, when `logits` is not 0, the
    /// logits are `dtype` elements shaped by `layout` (`layout.mask_words ==
    /// store.words()`) with `indices` 0 or `rows` `i32`.
    ///
    /// # Errors
    ///
    /// [`GpuError::Shape`] / [`GpuError::Description`] for shapes the kernel
    /// cannot address, [`GpuError::WrongContext`], [`GpuError::Compile`],
    /// [`GpuError::Driver`].
    ///
    /// # Safety
    ///
    /// Every pointer must be device memory of this masker's context holding
    /// what is described above, the descriptions well formed (as
    /// [`PackedDescriptions::from_words`] checks), not freed or written by
    /// other streams until the kernel has run.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn launch_build_raw(
        &self,
        stream: &CudaStream,
        store: &DeviceMaskStore,
        desc: sys::CUdeviceptr,
        packed_rows: usize,
        rows: usize,
        out: sys::CUdeviceptr,
        logits: sys::CUdeviceptr,
        dtype: Dtype,
        layout: BatchLayout,
        indices: sys::CUdeviceptr,
    ) -> Result<(), GpuError> {
        if rows > packed_rows {
            return Err(DescriptionError::BufferTooShort { what: "descriptions (rows)", needed: rows, len: packed_rows }.into());
        }
        if logits == 0 {
            return self.launch_build(stream, store, desc, packed_rows, rows, out, None);
        }
        if layout.mask_words != store.words() {
            return Err(DescriptionError::MaskWords { layout: layout.mask_words, store: store.words() }.into());
        }
        if indices == 0 && rows != layout.rows {
            return Err(ApplyError::BufferTooShort { what: "indices", needed: rows, len: 0 }.into());
        }
        self.launch_build(stream, store, desc, packed_rows, rows, out, Some(Logits { ptr: logits, dtype, layout, indices }))
    }

    fn check_store(&self, store: &DeviceMaskStore) -> Result<(), GpuError> {
        if store.ctx != self.ctx {
            return Err(GpuError::WrongContext);
        }
        self.build_funcs().map(|_| ())
    }

    /// Runs `launch` with a device pointer to the descriptions, uploading host
    /// ones first (after checking their mask ids against the store).
    fn with_device_desc(
        &self,
        store: &DeviceMaskStore,
        descriptions: Descriptions<'_>,
        launch: impl FnOnce(sys::CUdeviceptr, usize) -> Result<(), GpuError>,
    ) -> Result<(), GpuError> {
        match descriptions {
            Descriptions::Host(p) => {
                p.check_mask_ids(store.n_masks())?;
                let dev = guarded("uploading descriptions", || Ok(self.stream.clone_htod(p.as_words())?))?;
                let (ptr, _g) = dev.device_ptr(&self.stream);
                launch(ptr, p.rows())
            }
            Descriptions::Device(d) => {
                if d.ctx != self.ctx {
                    return Err(GpuError::WrongContext);
                }
                d.check_ids(store.n_masks())?;
                let (ptr, _g) = d.buf.device_ptr(&self.stream);
                launch(ptr, d.rows)
            }
        }
    }

    /// # Safety
    ///
    /// As [`GpuMasker::launch_build_raw`], with `rows <= packed_rows`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn launch_build(
        &self,
        stream: &CudaStream,
        store: &DeviceMaskStore,
        desc: sys::CUdeviceptr,
        packed_rows: usize,
        rows: usize,
        out: sys::CUdeviceptr,
        logits: Option<Logits>,
    ) -> Result<(), GpuError> {
        if stream.context() != &self.ctx {
            return Err(GpuError::WrongContext);
        }
        self.check_store(store)?;
        let funcs = self.build_funcs()?;
        let out_words = store.words();
        let cover = match &logits {
            None => out_words,
            Some(l) => {
                let lay = l.layout;
                if lay.rows > 1 && lay.row_stride < lay.width {
                    return Err(ApplyError::StrideTooSmall { stride: lay.row_stride, width: lay.width }.into());
                }
                lay.logits_len()?;
                if lay.width > MAX_WIDTH {
                    return Err(ApplyError::TooLarge("rows wider than 2^31 - 1 logits").into());
                }
                if lay.rows == 0 || lay.width == 0 {
                    // No logits to touch; still build `out` if asked.
                    if out == 0 {
                        return Ok(());
                    }
                    out_words
                } else {
                    out_words.max(lay.width.div_ceil(32))
                }
            }
        };
        if logits.is_none() && out == 0 {
            return Err(DescriptionError::BufferTooShort { what: "bitmask", needed: rows * out_words, len: 0 }.into());
        }
        let (tile, grid_x, grid_y) = build_launch_shape(cover, rows, self.sm_count);
        if grid_x == 0 {
            return Ok(());
        }
        let cfg = LaunchConfig {
            grid_dim: (grid_x, grid_y, 1),
            block_dim: (BUILD_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let (kinds, _k) = store.kinds.device_ptr(stream);
        let (offsets, _f) = store.offsets.device_ptr(stream);
        let (data, _d) = store.data.device_ptr(stream);
        let n_masks = store.n_masks;
        let n_tokens = store.n_tokens;
        // `desc_rows` locates the set / clear offset arrays; the kernel builds
        // the first `rows` rows.
        let desc_rows = packed_rows as u64;
        let n_rows = rows as u64;
        let out_words = out_words as u32;
        match logits {
            None => {
                let mut b = stream.launch_builder(&funcs[0]);
                b.arg(&kinds)
                    .arg(&offsets)
                    .arg(&data)
                    .arg(&n_masks)
                    .arg(&n_tokens)
                    .arg(&desc)
                    .arg(&desc_rows)
                    .arg(&n_rows)
                    .arg(&out)
                    .arg(&out_words)
                    .arg(&tile);
                // SAFETY: argument types and order match the kernel.
                guarded("launching the kernel", || Ok(unsafe { b.launch(cfg) }?)).map(|_| ())
            }
            Some(l) => {
                let esize = l.dtype.size();
                let lay = l.layout;
                let vec_ok = i32::from(
                    l.ptr & 15 == 0
                        && (lay.rows == 1 || lay.row_stride.checked_mul(esize).is_some_and(|b| b & 15 == 0)),
                );
                let func = if esize == 4 { &funcs[1] } else { &funcs[2] };
                let row_stride = lay.row_stride as u64;
                let n_logit_rows = lay.rows as u64;
                let width = lay.width as u32;
                let neg_inf = l.dtype.neg_inf_bits();
                let mut b = stream.launch_builder(func);
                b.arg(&kinds)
                    .arg(&offsets)
                    .arg(&data)
                    .arg(&n_masks)
                    .arg(&n_tokens)
                    .arg(&desc)
                    .arg(&desc_rows)
                    .arg(&n_rows)
                    .arg(&out)
                    .arg(&out_words)
                    .arg(&tile)
                    .arg(&l.ptr)
                    .arg(&row_stride)
                    .arg(&n_logit_rows)
                    .arg(&width)
                    .arg(&l.indices)
                    .arg(&neg_inf)
                    .arg(&vec_ok);
                // SAFETY: argument types and order match the kernel.
                guarded("launching the kernel", || Ok(unsafe { b.launch(cfg) }?)).map(|_| ())
            }
        }
    }
}

fn desc_rows(d: Descriptions<'_>) -> usize {
    match d {
        Descriptions::Host(p) => p.rows(),
        Descriptions::Device(d) => d.rows,
    }
}
