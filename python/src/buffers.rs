//! numpy arrays and torch tensors as raw, checked 2-D views (no copy).
//!
//! abi3 wheels for CPython 3.9 cannot use the buffer protocol (it joined the limited API in
//! 3.11), so a view is read from the object's own description: numpy's `__array_interface__`,
//! torch's `data_ptr()`, `shape`, `dtype`, `device` and `is_contiguous()`. Everything is
//! checked before a pointer is formed: the element type, C-contiguity, writability, alignment,
//! the device (CPU only) and the shape. The caller keeps the object alive (it holds a reference)
//! while the view is used.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Element types a view may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    I32,
    F32,
    F16,
    Bf16,
}

impl Elem {
    pub(crate) fn size(self) -> usize {
        match self {
            Elem::I32 | Elem::F32 => 4,
            Elem::F16 | Elem::Bf16 => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Elem::I32 => "int32",
            Elem::F32 => "float32",
            Elem::F16 => "float16",
            Elem::Bf16 => "bfloat16",
        }
    }
}

/// A C-contiguous, writable, CPU-resident 2-D array (`rows × cols` elements of `elem`; a 1-D
/// array is one row). `ptr` is valid for `rows * cols` elements while the object lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub(crate) ptr: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) elem: Elem,
}

impl View {
    /// Element count.
    pub(crate) fn len(&self) -> usize {
        self.rows * self.cols
    }
}

/// Whether `obj` is a torch tensor (checked by its type's module, so torch is never imported).
pub(crate) fn is_torch_tensor(obj: &Bound<'_, PyAny>) -> bool {
    let ty = obj.get_type();
    match ty.getattr("__module__") {
        Ok(m) => m.extract::<String>().is_ok_and(|m| m == "torch" || m.starts_with("torch.")),
        Err(_) => false,
    }
}

/// The device type of a torch tensor (`"cpu"`, `"cuda"`, ...).
pub(crate) fn torch_device(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    obj.getattr("device")?.getattr("type")?.extract()
}

/// A view of `obj` (`what` names it in errors) whose element type must be one of `allowed`.
pub(crate) fn view(obj: &Bound<'_, PyAny>, what: &str, allowed: &[Elem]) -> PyResult<View> {
    let (ptr, shape, elem) = if is_torch_tensor(obj) {
        torch_parts(obj, what, allowed)?
    } else if let Ok(interface) = obj.getattr("__array_interface__") {
        numpy_parts(&interface, what, allowed)?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a torch.Tensor or a numpy.ndarray, not {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        )));
    };
    let (rows, cols) = match shape.as_slice() {
        [n] => (1, *n),
        [r, c] => (*r, *c),
        other => return Err(PyValueError::new_err(format!("{what} must be 1-D or 2-D, got shape {other:?}"))),
    };
    rows.checked_mul(cols)
        .and_then(|n| n.checked_mul(elem.size()))
        .ok_or_else(|| PyValueError::new_err(format!("{what} is too large")))?;
    if rows * cols > 0 && (ptr == 0 || ptr % elem.size() != 0) {
        return Err(PyValueError::new_err(format!("{what}'s data pointer {ptr:#x} is null or not aligned to {} bytes", elem.size())));
    }
    Ok(View { ptr, rows, cols, elem })
}

fn dtype_error(what: &str, got: &str, allowed: &[Elem]) -> PyErr {
    let names: Vec<&str> = allowed.iter().map(|e| e.name()).collect();
    PyTypeError::new_err(format!("{what} must have dtype {}, not {got}", names.join(" or ")))
}

fn torch_parts(obj: &Bound<'_, PyAny>, what: &str, allowed: &[Elem]) -> PyResult<(usize, Vec<usize>, Elem)> {
    let device = torch_device(obj)?;
    if device != "cpu" {
        return Err(PyValueError::new_err(format!("{what} must be on the CPU, not on {device}")));
    }
    let dtype: String = obj.getattr("dtype")?.str()?.extract()?;
    let elem = match dtype.as_str() {
        "torch.int32" => Elem::I32,
        "torch.float32" => Elem::F32,
        "torch.float16" => Elem::F16,
        "torch.bfloat16" => Elem::Bf16,
        _ => return Err(dtype_error(what, &dtype, allowed)),
    };
    if !allowed.contains(&elem) {
        return Err(dtype_error(what, &dtype, allowed));
    }
    if !obj.call_method0("is_contiguous")?.extract::<bool>()? {
        return Err(PyValueError::new_err(format!("{what} must be contiguous (call .contiguous() on it)")));
    }
    if obj.getattr("requires_grad")?.extract::<bool>()? {
        return Err(PyValueError::new_err(format!("{what} requires grad; pass a tensor that does not (e.g. under torch.no_grad())")));
    }
    let shape: Vec<usize> = obj.getattr("shape")?.extract()?;
    let ptr: usize = obj.call_method0("data_ptr")?.extract()?;
    Ok((ptr, shape, elem))
}

fn numpy_parts(interface: &Bound<'_, PyAny>, what: &str, allowed: &[Elem]) -> PyResult<(usize, Vec<usize>, Elem)> {
    let interface = interface.downcast::<PyDict>().map_err(|_| PyTypeError::new_err(format!("{what}: __array_interface__ is not a dict")))?;
    let get = |key: &str| -> PyResult<Bound<'_, PyAny>> {
        interface.get_item(key)?.ok_or_else(|| PyTypeError::new_err(format!("{what}: __array_interface__ has no {key:?}")))
    };
    let typestr: String = get("typestr")?.extract()?;
    let elem = match typestr.as_str() {
        "<i4" => Elem::I32,
        "<f4" => Elem::F32,
        "<f2" => Elem::F16,
        _ => return Err(dtype_error(what, &typestr, allowed)),
    };
    if !allowed.contains(&elem) {
        return Err(dtype_error(what, &typestr, allowed));
    }
    let data = get("data")?;
    let data = data.downcast::<PyTuple>().map_err(|_| PyTypeError::new_err(format!("{what}: array data is not a (pointer, readonly) pair")))?;
    let ptr: usize = data.get_item(0)?.extract()?;
    let readonly: bool = data.get_item(1)?.extract()?;
    if readonly {
        return Err(PyValueError::new_err(format!("{what} is read-only")));
    }
    let shape: Vec<usize> = get("shape")?.extract()?;
    // `strides` is None for C-contiguous arrays; otherwise it must still describe a
    // C-contiguous layout.
    if let Some(strides) = interface.get_item("strides")? {
        if !strides.is_none() {
            let strides: Vec<isize> = strides.extract()?;
            let mut expected = elem.size() as isize;
            for (dim, stride) in shape.iter().zip(&strides).rev() {
                if *dim > 1 && *stride != expected {
                    return Err(PyValueError::new_err(format!("{what} must be C-contiguous (use numpy.ascontiguousarray)")));
                }
                expected *= *dim as isize;
            }
        }
    }
    if interface.get_item("mask")?.is_some_and(|m| !m.is_none()) {
        return Err(PyValueError::new_err(format!("{what} must not be a masked array")));
    }
    Ok((ptr, shape, elem))
}
