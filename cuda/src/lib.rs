//! Apply syncodec grammar bitmasks to batched logits on NVIDIA GPUs.
//!
//! # Contents
//!
//! - [`GpuMasker`]: a compiled kernel bound to a CUDA stream; its `apply_*`
//!   methods enqueue one kernel launch and return without synchronizing.
//! - [`probe`]: is CUDA usable here? Never panics; says why not.
//! - [`KERNEL_SOURCE`]: the CUDA C++ source, `kernels/apply_bitmask.cu`.
//! - The build kernel and its device-resident mask store: [`HostMaskStore`] (an
//!   artifact's mask store, checked and normalized), [`pack_descriptions`]
//!   (per-step compact row descriptions from `Session::describe_mask`),
//!   [`build_bitmask_cpu`] (the CPU reference), [`DeviceMaskStore`] /
//!   [`DeviceDescriptions`] and [`GpuMasker::build_bitmask`] /
//!   [`GpuMasker::apply_descriptions_f32`] (kernel source
//!   [`BUILD_KERNEL_SOURCE`], `kernels/build_bitmask.cu`).
//!
//! # Semantics
//!
//! Exactly those of [`syncodec_runtime::apply`], which is the reference the
//! GPU tests compare against: a `[B, V]` logits batch with a row stride
//! ([`BatchLayout`]), a `[B', W]` `u32` bitmask (bit `t & 31` of word
//! `t >> 5`, 1 = allowed), optional `i32` row indices (mask row `i` applies to
//! logits row `indices[i]`), disallowed logits set to −inf, logits past
//! `32 * W` set to −inf, surplus mask bits ignored. `f32` logits are
//! `CudaSlice<f32>`/views; `f16` and `bf16` logits are `u16` bit patterns
//! (`CudaSlice<u16>`), the dtype being given by [`Dtype16`].
//!
//! One difference is forced by the device: indices living in GPU memory
//! cannot be checked on the host without a synchronization, so an
//! out-of-range index is *skipped* by the kernel (nothing is written for that
//! mask row) where the CPU path returns an error. Shapes and buffer lengths
//! are checked on the host before every launch.
//!
//! # Loading
//!
//! cudarc is built with `dynamic-loading`: `libcuda` and `libnvrtc` are
//! opened at run time, so this crate builds and its tests pass on machines
//! without a CUDA toolkit, driver or GPU. Every constructor checks that the
//! libraries can be loaded first and turns cudarc panics (a missing library or
//! symbol) into [`GpuError::Unavailable`].
//!
//! The kernels are compiled with NVRTC for the device's architecture at first
//! use; the PTX is cached per architecture for the life of the process, and
//! each [`GpuMasker`] loads it once into its context. Machines without NVRTC
//! can use [`GpuMasker::from_ptx`] with PTX produced elsewhere by
//! [`compile_ptx`]. Both kernels are one translation unit
//! ([`full_kernel_source`]); should the build kernel fail to compile or
//! load, the masker falls back to the apply kernel's source alone and only the
//! build kernel's methods return the error.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{
    sys, CudaContext, CudaFunction, CudaStream, CudaView, DevicePtr, DevicePtrMut, DeviceSlice,
    DriverError, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use thiserror::Error;

mod describe;
mod store;

pub use cudarc;
pub use describe::{
    build_bitmask_cpu, pack_descriptions, DescriptionError, HostMaskStore, MaskDescription,
    PackedDescriptions, MASK_DENSE, MASK_SPARSE,
};
pub use store::{build_launch_shape, DeviceDescriptions, DeviceMaskStore, Descriptions};
pub use syncodec_runtime as runtime;
pub use syncodec_runtime::apply::{ApplyError, BatchLayout, Dtype, Dtype16};

/// The CUDA C++ source of the apply kernel (`kernels/apply_bitmask.cu`).
pub const KERNEL_SOURCE: &str = include_str!("../kernels/apply_bitmask.cu");

/// The CUDA C++ source of the build kernels (`kernels/build_bitmask.cu`).
/// It reuses definitions of [`KERNEL_SOURCE`] and is compiled after it, in
/// one translation unit: see [`full_kernel_source`].
pub const BUILD_KERNEL_SOURCE: &str = include_str!("../kernels/build_bitmask.cu");

/// [`KERNEL_SOURCE`] followed by [`BUILD_KERNEL_SOURCE`]: what
/// [`compile_ptx`] compiles.
pub fn full_kernel_source() -> String {
    format!("{KERNEL_SOURCE}\n{BUILD_KERNEL_SOURCE}")
}

/// Threads per block; must match `SC_THREADS` in the kernel.
const THREADS: u32 = 256;
/// Widest row the kernel's 32-bit column arithmetic accepts.
const MAX_WIDTH: usize = (1 << 31) - 1;

const ENTRY_POINTS: [&str; 4] = [
    "syncodec_apply_bitmask_b32_u1",
    "syncodec_apply_bitmask_b32_u4",
    "syncodec_apply_bitmask_b16_u1",
    "syncodec_apply_bitmask_b16_u4",
];

/// Why a GPU operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GpuError {
    /// CUDA cannot be used in this process: no driver library, no device,
    /// a driver too old for a symbol cudarc needs, or initialization failed.
    #[error("CUDA unavailable: {0}")]
    Unavailable(String),
    /// NVRTC is missing or rejected the kernel.
    #[error("NVRTC: {0}")]
    Compile(String),
    /// A CUDA driver call failed.
    #[error("CUDA driver: {0}")]
    Driver(#[from] DriverError),
    /// The shapes do not match the buffers.
    #[error(transparent)]
    Shape(#[from] ApplyError),
    /// A buffer or stream belongs to another CUDA context than the masker.
    #[error("buffer or stream belongs to a different CUDA context than the GpuMasker")]
    WrongContext,
    /// A mask store or descriptions that cannot be used (build kernel).
    #[error(transparent)]
    Description(#[from] DescriptionError),
}

/// What [`probe`] found.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Number of CUDA devices.
    pub device_count: usize,
    /// Name of device 0.
    pub name: String,
    /// Compute capability of device 0.
    pub compute_capability: (i32, i32),
}

/// Runs `f`, turning a cudarc panic (missing library or symbol) into
/// [`GpuError::Unavailable`].
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(GpuError::Unavailable(format!("{what}: {msg}")))
        }
    }
}

fn driver_present() -> Result<(), GpuError> {
    // SAFETY: only tries to dlopen the driver library under its usual names.
    if unsafe { sys::is_culib_present() } {
        Ok(())
    } else {
        Err(GpuError::Unavailable(
            "the CUDA driver library (libcuda) could not be loaded; no NVIDIA driver on this machine?"
                .into(),
        ))
    }
}

/// Checks whether CUDA is usable: the driver library loads, `cuInit`
/// succeeds and at least one device is present. Never panics.
///
/// # Errors
///
/// [`GpuError::Unavailable`] with the reason.
pub fn probe() -> Result<DeviceInfo, GpuError> {
    driver_present()?;
    guarded("probing CUDA", || {
        let n = CudaContext::device_count()
            .map_err(|e| GpuError::Unavailable(format!("cuInit / cuDeviceGetCount failed: {e}")))?;
        if n <= 0 {
            return Err(GpuError::Unavailable("no CUDA device found".into()));
        }
        let ctx = CudaContext::new(0).map_err(|e| {
            GpuError::Unavailable(format!("cannot create a context on device 0: {e}"))
        })?;
        Ok(DeviceInfo {
            device_count: n as usize,
            name: ctx.name()?,
            compute_capability: ctx.compute_capability()?,
        })
    })
}

/// Compiles both kernels ([`full_kernel_source`]) to PTX with NVRTC for
/// compute capability `cc` (`None`: NVRTC's default architecture). Results
/// are cached per architecture for the life of the process.
///
/// # Errors
///
/// [`GpuError::Compile`] when NVRTC cannot be loaded or rejects the source.
pub fn compile_ptx(cc: Option<(i32, i32)>) -> Result<String, GpuError> {
    compile_cached(cc, true)
}

/// Compiles the apply kernel alone ([`KERNEL_SOURCE`]); PTX from it gives a
/// masker without the build kernel's methods.
///
/// # Errors
///
/// As [`compile_ptx`].
pub fn compile_apply_ptx(cc: Option<(i32, i32)>) -> Result<String, GpuError> {
    compile_cached(cc, false)
}

fn compile_cached(cc: Option<(i32, i32)>, full: bool) -> Result<String, GpuError> {
    type Cache = Mutex<HashMap<(Option<(i32, i32)>, bool), String>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(ptx) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&(cc, full)) {
        return Ok(ptx.clone());
    }
    // SAFETY: only tries to dlopen libnvrtc under its usual names.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(GpuError::Compile(
            "libnvrtc could not be loaded (install the CUDA NVRTC runtime or put it on LD_LIBRARY_PATH), \
             or build the masker with GpuMasker::from_ptx"
                .into(),
        ));
    }
    let ptx = guarded("NVRTC", || {
        let mut opts = cudarc::nvrtc::CompileOptions {
            name: Some(if full { "syncodec_kernels.cu" } else { "apply_bitmask.cu" }.into()),
            ..Default::default()
        };
        if let Some((major, minor)) = cc {
            opts.options
                .push(format!("--gpu-architecture=compute_{major}{minor}"));
        }
        opts.options.push("--std=c++14".into());
        let src = if full { full_kernel_source() } else { KERNEL_SOURCE.to_string() };
        cudarc::nvrtc::compile_ptx_with_opts(src, opts)
            .map(|p| p.to_src())
            .map_err(|e| GpuError::Compile(format!("{e:?}")))
    })?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((cc, full), ptx.clone());
    Ok(ptx)
}

/// The bitmask kernel, loaded into one CUDA context and bound to a stream.
///
/// Cheap to clone; [`GpuMasker::on_stream`] rebinds a clone to another
/// stream of the same context. `apply_*` calls enqueue work on the bound
/// stream and return at once: synchronize the stream (or record an event)
/// before reading the logits on the host.
#[derive(Clone, Debug)]
pub struct GpuMasker {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// Indexed like `ENTRY_POINTS`.
    funcs: Arc<[CudaFunction; 4]>,
    /// The build kernels, indexed like `store::BUILD_ENTRY_POINTS`, or why they
    /// are missing.
    build_funcs: Result<Arc<[CudaFunction; 3]>, Arc<str>>,
    sm_count: u32,
}

impl GpuMasker {
    /// Compiles the kernel (NVRTC, for the stream's device; cached per
    /// architecture) and loads it into the stream's context.
    ///
    /// # Errors
    ///
    /// [`GpuError::Unavailable`] without a usable driver, [`GpuError::Compile`]
    /// without NVRTC, [`GpuError::Driver`] when loading fails.
    pub fn new(stream: Arc<CudaStream>) -> Result<Self, GpuError> {
        driver_present()?;
        let cc = guarded("querying the device", || {
            Ok(stream.context().compute_capability()?)
        })?;
        // Both kernels for the device's architecture, then for NVRTC's
        // default target (a driver older than NVRTC may refuse PTX for the
        // newest architecture; the default is JIT-compiled forward). Should
        // the build kernel's source be what fails, the apply kernel alone, the
        // same two ways.
        let mut first_err = None;
        for full in [true, false] {
            for arch in [Some(cc), None] {
                let ptx = if full { compile_ptx(arch) } else { compile_apply_ptx(arch) };
                match ptx.and_then(|p| Self::from_ptx(stream.clone(), &p)) {
                    Ok(mut m) => {
                        if let (false, Some(e)) = (full, &first_err) {
                            m.build_funcs = Err(format!(
                                "the build kernel (build_bitmask.cu) could not be compiled or loaded: {e}"
                            )
                            .into());
                        }
                        return Ok(m);
                    }
                    Err(e @ (GpuError::Driver(_) | GpuError::Compile(_))) => {
                        first_err.get_or_insert(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(first_err.unwrap_or_else(|| GpuError::Compile("no PTX could be loaded".into())))
    }

    /// Device `ordinal`'s primary context and a new stream on it: the
    /// one-line way to get a masker, used by the tests and the benchmark.
    ///
    /// # Errors
    ///
    /// As [`GpuMasker::new`]; never panics when CUDA is absent.
    pub fn on_device(ordinal: usize) -> Result<Self, GpuError> {
        driver_present()?;
        let stream = guarded("creating a CUDA context", || {
            let ctx = CudaContext::new(ordinal).map_err(|e| {
                GpuError::Unavailable(format!("cannot create a context on device {ordinal}: {e}"))
            })?;
            Ok(ctx.new_stream()?)
        })?;
        Self::new(stream)
    }

    /// Loads already compiled PTX (from [`compile_ptx`], possibly on another
    /// machine) into the stream's context. Needs no NVRTC. PTX without the
    /// build kernel's entry points (from [`compile_apply_ptx`] or an older
    /// version) gives a masker whose build methods return [`GpuError::Compile`].
    ///
    /// # Errors
    ///
    /// [`GpuError::Driver`] when the driver rejects the PTX.
    pub fn from_ptx(stream: Arc<CudaStream>, ptx: &str) -> Result<Self, GpuError> {
        driver_present()?;
        guarded("loading the kernel", || {
            let ctx = stream.context().clone();
            let module = ctx.load_module(Ptx::from_src(ptx))?;
            let f = |i: usize| module.load_function(ENTRY_POINTS[i]);
            let funcs = [f(0)?, f(1)?, f(2)?, f(3)?];
            let b = |i: usize| module.load_function(store::BUILD_ENTRY_POINTS[i]);
            let build_funcs = match (b(0), b(1), b(2)) {
                (Ok(x), Ok(y), Ok(z)) => Ok(Arc::new([x, y, z])),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(format!(
                    "the PTX has no build kernels ({e}); make it with compile_ptx, not compile_apply_ptx"
                )
                .into()),
            };
            let sm_count = ctx
                .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?
                .max(1) as u32;
            Ok(GpuMasker {
                ctx,
                stream,
                funcs: Arc::new(funcs),
                build_funcs,
                sm_count,
            })
        })
    }

    /// A clone that launches on `stream` (same context).
    ///
    /// # Errors
    ///
    /// [`GpuError::WrongContext`] when `stream` belongs to another context.
    pub fn on_stream(&self, stream: Arc<CudaStream>) -> Result<Self, GpuError> {
        if stream.context() != &self.ctx {
            return Err(GpuError::WrongContext);
        }
        Ok(GpuMasker {
            stream,
            ..self.clone()
        })
    }

    /// The stream launches go to.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The context the kernel is loaded in.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// Applies `bitmask` to `f32` logits in place, asynchronously on the
    /// masker's stream. `indices`: mask row `i` applies to logits row
    /// `indices[i]` (out-of-range values are skipped by the kernel).
    ///
    /// # Errors
    ///
    /// [`GpuError::Shape`] when the buffers are too short for `layout` (nothing
    /// is launched), [`GpuError::WrongContext`], [`GpuError::Driver`].
    pub fn apply_f32(
        &self,
        logits: &mut impl DevicePtrMut<f32>,
        layout: BatchLayout,
        bitmask: &impl DevicePtr<u32>,
        indices: Option<CudaView<'_, i32>>,
    ) -> Result<(), GpuError> {
        self.apply_slices(logits, Dtype::F32, layout, bitmask, indices)
    }

    /// [`GpuMasker::apply_f32`] for `f16` or `bf16` logits held as `u16`.
    ///
    /// # Errors
    ///
    /// As [`GpuMasker::apply_f32`].
    pub fn apply_u16(
        &self,
        logits: &mut impl DevicePtrMut<u16>,
        dtype: Dtype16,
        layout: BatchLayout,
        bitmask: &impl DevicePtr<u32>,
        indices: Option<CudaView<'_, i32>>,
    ) -> Result<(), GpuError> {
        self.apply_slices(logits, dtype.into(), layout, bitmask, indices)
    }

    /// Convenience for callers whose mask (and indices) are on the host:
    /// validates the indices on the host (an out-of-range index is an error
    /// here, as on the CPU), uploads mask and indices on the masker's stream,
    /// then applies. The upload is ordered before the kernel on the stream
    /// and the temporary device buffers are freed stream-ordered, so this is
    /// as asynchronous as a pageable host-to-device copy allows. Hot loops
    /// should keep their masks in their own device buffers instead.
    ///
    /// # Errors
    ///
    /// As [`GpuMasker::apply_f32`], plus [`ApplyError::IndexOutOfRange`].
    pub fn apply_host_mask_f32(
        &self,
        logits: &mut impl DevicePtrMut<f32>,
        layout: BatchLayout,
        bitmask: &[u32],
        indices: Option<&[i32]>,
    ) -> Result<(), GpuError> {
        self.apply_host(logits, Dtype::F32, layout, bitmask, indices)
    }

    /// [`GpuMasker::apply_host_mask_f32`] for `f16` / `bf16` logits as `u16`.
    ///
    /// # Errors
    ///
    /// As [`GpuMasker::apply_host_mask_f32`].
    pub fn apply_host_mask_u16(
        &self,
        logits: &mut impl DevicePtrMut<u16>,
        dtype: Dtype16,
        layout: BatchLayout,
        bitmask: &[u32],
        indices: Option<&[i32]>,
    ) -> Result<(), GpuError> {
        self.apply_host(logits, dtype.into(), layout, bitmask, indices)
    }

    fn apply_host<T>(
        &self,
        logits: &mut impl DevicePtrMut<T>,
        dtype: Dtype,
        layout: BatchLayout,
        bitmask: &[u32],
        indices: Option<&[i32]>,
    ) -> Result<(), GpuError> {
        let mask_rows = indices.map_or(layout.rows, <[i32]>::len);
        layout.check(logits.len(), bitmask.len(), mask_rows)?;
        if let Some(ix) = indices {
            layout.check_indices(ix)?;
        }
        if mask_rows == 0 || layout.width == 0 {
            return Ok(());
        }
        // With zero mask words everything becomes -inf; upload one dummy
        // word rather than allocate zero bytes.
        let needed = mask_rows * layout.mask_words;
        let host_mask: &[u32] = if needed == 0 {
            &[0]
        } else {
            &bitmask[..needed]
        };
        let dev_mask = self.stream.clone_htod(host_mask)?;
        let dev_ix = match indices {
            Some(ix) => Some(self.stream.clone_htod(ix)?),
            None => None,
        };
        self.apply_slices(
            logits,
            dtype,
            layout,
            &dev_mask,
            dev_ix.as_ref().map(|s| s.as_view()),
        )
    }

    fn apply_slices<T>(
        &self,
        logits: &mut impl DevicePtrMut<T>,
        dtype: Dtype,
        layout: BatchLayout,
        bitmask: &impl DevicePtr<u32>,
        indices: Option<CudaView<'_, i32>>,
    ) -> Result<(), GpuError> {
        debug_assert_eq!(dtype.size(), std::mem::size_of::<T>());
        for ctx in [logits.stream().context(), bitmask.stream().context()] {
            if ctx != &self.ctx {
                return Err(GpuError::WrongContext);
            }
        }
        if let Some(ix) = &indices {
            if ix.stream().context() != &self.ctx {
                return Err(GpuError::WrongContext);
            }
        }
        let mask_rows = indices.as_ref().map_or(layout.rows, |ix| ix.len());
        layout.check(logits.len(), bitmask.len(), mask_rows)?;
        let stream = &*self.stream;
        let (logits_ptr, _l) = logits.device_ptr_mut(stream);
        let (mask_ptr, _m) = bitmask.device_ptr(stream);
        let (ix_ptr, _i) = match &indices {
            Some(ix) => {
                let (p, g) = ix.device_ptr(stream);
                (p, Some(g))
            }
            None => (0, None),
        };
        // SAFETY: the pointers come from live cudarc buffers of this context
        // whose lengths were checked against `layout` above; the guards keep
        // cudarc's stream-ordering events alive until after the launch.
        unsafe {
            self.launch_raw(
                stream, logits_ptr, dtype, layout, mask_ptr, ix_ptr, mask_rows,
            )
        }
    }

    /// Enqueues the kernel on `stream` for raw device pointers (for
    /// integrations that hold framework tensors, e.g. `tensor.data_ptr()`).
    /// `indices` is a device pointer to `mask_rows` `i32` values, or 0 for
    /// none (then `mask_rows` must be `layout.rows`).
    ///
    /// # Errors
    ///
    /// [`GpuError::Shape`] for layouts the kernel cannot address,
    /// [`GpuError::WrongContext`], [`GpuError::Driver`] when the launch fails.
    ///
    /// # Safety
    ///
    /// `logits` must point to at least `layout.logits_len()` elements of
    /// `dtype`, `bitmask` to `mask_rows * layout.mask_words` `u32` words (4-byte
    /// aligned) and `indices` (when not 0) to `mask_rows` `i32`, all device
    /// memory of this masker's context, not freed or used concurrently by
    /// other streams until the kernel has run.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn launch_raw(
        &self,
        stream: &CudaStream,
        logits: sys::CUdeviceptr,
        dtype: Dtype,
        layout: BatchLayout,
        bitmask: sys::CUdeviceptr,
        indices: sys::CUdeviceptr,
        mask_rows: usize,
    ) -> Result<(), GpuError> {
        if stream.context() != &self.ctx {
            return Err(GpuError::WrongContext);
        }
        if layout.rows > 1 && layout.row_stride < layout.width {
            return Err(ApplyError::StrideTooSmall {
                stride: layout.row_stride,
                width: layout.width,
            }
            .into());
        }
        if indices == 0 && mask_rows != layout.rows {
            return Err(ApplyError::BufferTooShort {
                what: "indices",
                needed: mask_rows,
                len: 0,
            }
            .into());
        }
        layout.logits_len()?;
        if layout.width > MAX_WIDTH {
            return Err(ApplyError::TooLarge("rows wider than 2^31 - 1 logits").into());
        }
        let mask_words = u32::try_from(layout.mask_words)
            .map_err(|_| ApplyError::TooLarge("more than 2^32 - 1 mask words per row"))?;
        if layout.width == 0 || mask_rows == 0 || layout.rows == 0 {
            return Ok(());
        }
        let esize = dtype.size();
        let elems = 16 / esize;
        let vec_ok = logits & 15 == 0
            && (layout.rows == 1
                || layout
                    .row_stride
                    .checked_mul(esize)
                    .is_some_and(|b| b & 15 == 0));
        let nvec = layout.width.div_ceil(elems);
        // Small launches: one vector per thread so the grid still covers
        // every SM; large ones: four, for more loads in flight per thread.
        let big =
            nvec.saturating_mul(mask_rows) >= 8 * (THREADS as usize) * 4 * self.sm_count as usize;
        let unroll = if big { 4 } else { 1 };
        let grid_x = nvec.div_ceil(THREADS as usize * unroll);
        let grid_y = mask_rows.min(65535);
        let func = &self.funcs[match (esize, big) {
            (4, false) => 0,
            (4, true) => 1,
            (_, false) => 2,
            (_, true) => 3,
        }];
        let cfg = LaunchConfig {
            grid_dim: (grid_x as u32, grid_y as u32, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let row_stride = layout.row_stride as u64;
        let n_logit_rows = layout.rows as u64;
        let width = layout.width as u32;
        let n_mask_rows = mask_rows as u64;
        let neg_inf = dtype.neg_inf_bits();
        let vec_ok = i32::from(vec_ok);
        let mut b = stream.launch_builder(func);
        b.arg(&logits)
            .arg(&row_stride)
            .arg(&n_logit_rows)
            .arg(&width)
            .arg(&bitmask)
            .arg(&mask_words)
            .arg(&indices)
            .arg(&n_mask_rows)
            .arg(&neg_inf)
            .arg(&vec_ok);
        // SAFETY: argument types and order match the kernel's signature;
        // memory validity is the caller's obligation (see # Safety).
        guarded("launching the kernel", || Ok(unsafe { b.launch(cfg) }?)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_source_has_every_entry_point() {
        for name in ENTRY_POINTS {
            assert!(
                KERNEL_SOURCE.contains(&format!("SC_ENTRY({name},")),
                "{name}"
            );
        }
        assert!(KERNEL_SOURCE.contains(&format!("#define SC_THREADS {THREADS}")));
        for name in store::BUILD_ENTRY_POINTS {
            assert!(
                BUILD_KERNEL_SOURCE.contains(&format!("void __launch_bounds__(SC_BUILD_THREADS) {name}("))
                    || BUILD_KERNEL_SOURCE.contains(&format!("SC_BUILD_APPLY_ENTRY({name},")),
                "{name}"
            );
        }
        assert!(BUILD_KERNEL_SOURCE.contains(&format!("#define SC_BUILD_THREADS {}", store::BUILD_THREADS)));
        assert!(BUILD_KERNEL_SOURCE.contains(&format!("#define SC_TILE_MAX {}", store::TILE_MAX)));
        for src in [KERNEL_SOURCE, BUILD_KERNEL_SOURCE] {
            assert!(
                !src.contains("#include"),
                "NVRTC compiles it with no include path"
            );
        }
    }

    #[test]
    fn absent_cuda_is_an_error_not_a_panic() {
        // On a machine with a GPU this succeeds; without one it must return
        // an error. Either way it must not panic.
        match probe() {
            Ok(info) => eprintln!("CUDA present: {info:?}"),
            Err(e) => eprintln!("no CUDA (expected on CPU-only machines): {e}"),
        }
        if let Err(e) = GpuMasker::on_device(0) {
            eprintln!("GpuMasker::on_device(0): {e}");
        }
    }
}
