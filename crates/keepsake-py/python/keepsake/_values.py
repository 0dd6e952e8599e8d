"""Params and metrics: Python values to Keepsake's stored JSON and back.

NaN and the infinities are stored as the strings ``"[NaN]"``, ``"[+Infinity]"`` and
``"[-Infinity]"`` (Keepsake 0.4.2's encoding), at any depth. Numbers, strings, booleans, None, lists
and dicts with string keys are stored; numpy, torch and tensorflow values are converted first.
"""

import math

from .exceptions import InvalidArgument

NAN = "[NaN]"
POS_INF = "[+Infinity]"
NEG_INF = "[-Infinity]"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def encode(value, where):
    """A JSON-ready copy of ``value``; ``where`` names it in errors (e.g. ``params['lr']``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidArgument(f"{where} = {value} does not fit in a 64-bit integer")
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return NAN
        if math.isinf(value):
            return POS_INF if value > 0 else NEG_INF
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgument(f"{where} has the key {k!r}: keys must be strings")
            out[k] = encode(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    converted = _convert_array(value)
    if converted is not _UNCONVERTIBLE:
        return encode(converted, where)
    raise InvalidArgument(
        f"{where} = {value!r} of type {type(value).__name__} cannot be stored: "
        "use numbers, strings, booleans, None, lists and dicts"
    )


_UNCONVERTIBLE = object()


def _convert_array(value):
    """numpy scalars and arrays, torch and tensorflow tensors, as plain Python values."""
    if hasattr(value, "numpy") and callable(value.numpy) and not hasattr(value, "tolist"):
        value = value.numpy()  # tensorflow
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        if hasattr(value, "detach"):
            value = value.detach().cpu()  # torch
            tolist = value.tolist
        return tolist()
    return _UNCONVERTIBLE


def encode_mapping(mapping, name):
    """Encodes a params or metrics dict (None stays None)."""
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise InvalidArgument(f"{name} must be a dict, not {type(mapping).__name__}: {mapping!r}")
    return encode(mapping, name)


def decode(value):
    """Stored JSON back to Python values (the sentinels back to floats)."""
    if isinstance(value, str):
        if value == NAN:
            return float("nan")
        if value == POS_INF:
            return float("inf")
        if value == NEG_INF:
            return float("-inf")
        return value
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
