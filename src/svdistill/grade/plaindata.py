"""Values as plain data: the only form in which a candidate's results reach the tests.

The test process and the candidate's process exchange JSON lines. Lists, strings, numbers,
booleans and None are JSON's own; tuples, sets, frozensets, bytes, complex numbers and dicts are
tagged objects ({"t": "tuple", "v": [...]}), so every JSON object on the wire is a tag and a dict
keeps non-string keys. `decode` builds nothing but builtin values of exactly these types, so no
custom __eq__, mock.ANY or other object of the candidate's can reach an assertion. Never pickle:
unpickling runs code chosen by whoever wrote the bytes.

This file runs inside the sandbox too (its source is prepended to svdistill/grade/child.py), so
it imports nothing but the standard library.
"""

import json
import math

_SCALARS = (bool, int, float, str, type(None))


class NotPlainData(TypeError):
    """A value (or a wire message) that is not one of the plain types."""


def encode(value, depth=0):
    """`value` as JSON-ready data. Subclasses of the plain types (a Counter, a namedtuple, an
    OrderedDict) go as their base type; anything else (objects, functions, generators) raises
    NotPlainData."""
    if depth > 200:
        raise NotPlainData("nested more than 200 levels deep")
    for kind in _SCALARS:
        if isinstance(value, kind):
            if kind is float:
                value = float(value)
                return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
            return kind(value) if kind is not type(None) else None
    d = depth + 1
    if isinstance(value, list):
        return [encode(v, d) for v in value]
    if isinstance(value, tuple):
        return {"t": "tuple", "v": [encode(v, d) for v in value]}
    if isinstance(value, frozenset):
        return {"t": "frozenset", "v": [encode(v, d) for v in value]}
    if isinstance(value, set):
        return {"t": "set", "v": [encode(v, d) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[encode(k, d), encode(v, d)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"t": "bytes", "v": bytes(value).hex()}
    if isinstance(value, complex):
        return {"t": "complex", "v": [value.real, value.imag]}
    raise NotPlainData(f"a {type(value).__name__} is not plain data")


def decode(data):
    """The inverse of `encode`, trusting nothing: an unknown tag, a malformed tag object or an
    unhashable set member raises NotPlainData."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v) for v in data]
    if type(data) is not dict or set(data) != {"t", "v"}:
        raise NotPlainData(f"not a plain-data message: {type(data).__name__}")
    tag, v = data["t"], data["v"]
    try:
        if tag == "float" and v in ("nan", "inf", "-inf"):
            return float(v)
        if tag == "bytes" and type(v) is str:
            return bytes.fromhex(v)
        if tag == "complex" and type(v) is list and len(v) == 2:
            return complex(*(float(x) for x in v if type(x) in (int, float)))
        if type(v) is not list:
            raise NotPlainData(f"tag {tag!r} needs a list")
        if tag == "tuple":
            return tuple(decode(x) for x in v)
        if tag == "set":
            return {decode(x) for x in v}
        if tag == "frozenset":
            return frozenset(decode(x) for x in v)
        if tag == "dict" and all(type(p) is list and len(p) == 2 for p in v):
            return {decode(k): decode(x) for k, x in v}
    except TypeError as e:  # unhashable member, wrong arity: forged, not encoded by `encode`
        raise NotPlainData(f"malformed {tag!r}: {e}") from None
    raise NotPlainData(f"unknown or malformed tag {tag!r}")


def dumps(value):
    """One wire line (no newline) for `value`."""
    return json.dumps(encode(value), allow_nan=False, separators=(",", ":"))


def loads(line):
    """The value of one wire line; anything that is not plain data raises NotPlainData."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise NotPlainData(f"not JSON: {str(e)[:100]}") from None
    try:
        return decode(data)
    except RecursionError:
        raise NotPlainData("nested too deeply") from None
