//! `apply_token_bitmask_inplace` for CPU logits: the runtime's vectorized row functions.

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use syncodec_runtime::apply::{apply_bitmask_bf16, apply_bitmask_f16, apply_bitmask_f32};

use crate::buffers::{view, Elem};

/// Sets the logits of disallowed tokens to -inf in place: logits row `i` (for every `i`, or for
/// each `i` in `indices`) with bitmask row `i`. Logits past `32 * words` become -inf. Checks every
/// shape and index before writing anything.
#[pyfunction]
#[pyo3(signature = (logits, bitmask, indices=None))]
pub fn apply_token_bitmask_inplace_cpu(py: Python<'_>, logits: &Bound<'_, PyAny>, bitmask: &Bound<'_, PyAny>, indices: Option<Vec<i64>>) -> PyResult<()> {
    let lv = view(logits, "logits", &[Elem::F32, Elem::F16, Elem::Bf16])?;
    let mut bv = view(bitmask, "bitmask", &[Elem::I32])?;
    if lv.rows == 1 && bv.rows > 1 && indices.is_none() && bv.rows != lv.rows {
        return Err(PyValueError::new_err(format!("logits has 1 row but bitmask has {} rows", bv.rows)));
    }
    if bv.rows == 1 && lv.rows > 1 && indices.is_none() {
        // One mask row for every logits row would be a silent broadcast: refuse it.
        return Err(PyValueError::new_err(format!("logits has {} rows but bitmask has 1; pass a bitmask of shape (batch, words)", lv.rows)));
    }
    if bv.cols * 32 < lv.cols.saturating_sub(31) {
        // Fine: positions past the mask become -inf (padded vocabularies). Nothing to check.
    }
    let rows: Vec<usize> = match indices {
        None => {
            if bv.rows < lv.rows {
                return Err(PyValueError::new_err(format!("bitmask has {} rows, logits {}", bv.rows, lv.rows)));
            }
            (0..lv.rows).collect()
        }
        Some(ix) => ix
            .into_iter()
            .map(|i| {
                if i < 0 || i as u64 >= lv.rows as u64 || i as u64 >= bv.rows as u64 {
                    Err(PyIndexError::new_err(format!("index {i} is out of range for {} logits rows and {} bitmask rows", lv.rows, bv.rows)))
                } else {
                    Ok(i as usize)
                }
            })
            .collect::<PyResult<_>>()?,
    };
    bv.rows = bv.rows.max(1);
    let (lptr, lcols, bptr, bcols, elem) = (lv.ptr, lv.cols, bv.ptr, bv.cols, lv.elem);
    if lv.len() == 0 {
        return Ok(());
    }
    py.allow_threads(move || {
        for row in rows {
            // SAFETY: both views were checked (C-contiguous, writable, aligned, CPU) and `row` is
            // below both row counts; the caller holds both objects. The mask is only read.
            let mask = unsafe { std::slice::from_raw_parts((bptr as *const u32).add(row * bcols), bcols) };
            match elem {
                Elem::F32 => apply_bitmask_f32(unsafe { std::slice::from_raw_parts_mut((lptr as *mut f32).add(row * lcols), lcols) }, mask),
                Elem::F16 => apply_bitmask_f16(unsafe { std::slice::from_raw_parts_mut((lptr as *mut u16).add(row * lcols), lcols) }, mask),
                Elem::Bf16 => apply_bitmask_bf16(unsafe { std::slice::from_raw_parts_mut((lptr as *mut u16).add(row * lcols), lcols) }, mask),
                Elem::I32 => {}
            }
        }
    });
    Ok(())
}
