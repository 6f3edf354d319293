"""Elementwise helpers that accept Python floats, numpy arrays and torch tensors alike,
so the reward maths is written once and never imports torch itself."""

from __future__ import annotations

import numpy as np


def is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def clip(x, low: float, high: float):
    return x.clamp(low, high) if is_torch(x) else np.clip(x, low, high)


def log(x):
    return x.log() if is_torch(x) else np.log(x)


def where(condition, if_true, if_false):
    if is_torch(condition):
        import torch  # already loaded: the caller passed a tensor

        return torch.where(condition, if_true, if_false)
    return np.where(condition, if_true, if_false)


def as_input_type(result, *inputs):
    """A plain float when every input was a Python number, else the array as computed."""
    if all(isinstance(x, (int, float)) for x in inputs):
        return float(result)
    return result


def as_array(x):
    """Python numbers and sequences become float64 arrays; tensors and arrays pass through."""
    return x if is_torch(x) or isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float64)
