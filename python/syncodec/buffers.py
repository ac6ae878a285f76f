"""Small helpers about the arrays the package accepts (numpy arrays, torch tensors)."""

from __future__ import annotations

from typing import Any, Optional


def device_of(obj: Any) -> Optional[str]:
    """The device type of a torch tensor (``"cpu"``, ``"cuda"``...), None for anything else."""
    device = getattr(obj, "device", None)
    if device is None or type(obj).__module__.split(".")[0] != "torch":
        return None
    return getattr(device, "type", None)
