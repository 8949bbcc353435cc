"""The compiled entry kernels of one kernel module, each behind a check of its one signature (no Numba import).

A ``numba.pycc`` function unboxes an array argument by its number of dimensions and item size only: an int64 array
passed where float64 is compiled would be read as floats. So every call checks its arguments against the
signature the build recorded (:func:`arg_spec` describes it) and runs the JIT kernel on any misfit instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["AotKernels", "AotEntry", "arg_check"]

_INT64 = (-(2**63), 2**63)


def _is_int64(a) -> bool:
    return (type(a) is int and _INT64[0] <= a < _INT64[1]) or type(a) is np.int64


def _is_float64(a) -> bool:
    return type(a) is float or type(a) is np.float64


def _is_bool(a) -> bool:
    return type(a) is bool or type(a) is np.bool_


def arg_check(spec: list) -> Callable[[Any], bool]:
    """A predicate for one argument of a recorded signature: ``["int64"]``, ``["float64"]``, ``["bool"]`` or
    ``["array", dtype, ndim, layout, readonly]`` (layout ``C``, ``F`` or ``A``; ``readonly`` false means the
    kernel may write: a read-only array does not fit)."""
    kind = spec[0]
    if kind == "int64":
        return _is_int64
    if kind == "float64":
        return _is_float64
    if kind == "bool":
        return _is_bool
    if kind != "array":
        raise ValueError(f"unknown argument kind {kind!r}")
    dtype, ndim, layout, readonly = np.dtype(spec[1]), int(spec[2]), spec[3], bool(spec[4])

    def check(a) -> bool:
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim:
            return False
        flags = a.flags
        if not flags.aligned or (not readonly and not flags.writeable):
            return False
        return layout == "A" or (flags.c_contiguous if layout == "C" else flags.f_contiguous)

    return check


def _thaw(value):
    """A constant as the module holds it: JSON lists back to (nested) tuples."""
    return tuple(_thaw(v) for v in value) if isinstance(value, list) else value


class AotEntry:
    """One compiled entry kernel: calls that fit its signature run the compiled code, others the JIT kernel."""

    def __init__(self, module: str, name: str, fn: Callable, args: list, misfits: list[str]) -> None:
        self.module, self.name, self._fn, self._misfits = module, name, fn, misfits
        self.args = args  # the recorded argument specs (see arg_check)
        self._checks = tuple(arg_check(s) for s in args)
        self.__doc__ = f"{module}.{name} compiled ahead of time ({len(args)} arguments)"

    def fits(self, args: tuple) -> bool:
        """Whether ``args`` fit the compiled signature."""
        checks = self._checks
        return len(args) == len(checks) and all(ok(a) for ok, a in zip(checks, args))

    def __call__(self, *args):
        if self.fits(args):
            return self._fn(*args)
        self._misfits.append(f"{self.module}.{self.name}")
        return getattr(importlib.import_module(self.module), self.name)(*args)

    def compiled(self, *args):
        """The compiled code only (tests): TypeError when ``args`` do not fit its signature."""
        if not self.fits(args):
            raise TypeError(f"arguments do not fit the compiled signature of {self.module}.{self.name}")
        return self._fn(*args)

    def __repr__(self) -> str:
        return f"<AOT kernel {self.module}.{self.name}>"


class AotKernels:
    """Attributes: the compiled entries and the recorded constants of ``module``; any other name is the JIT
    module's (imported on first use)."""

    def __init__(self, module: str, ext, entries: dict, constants: dict, misfits: list[str]) -> None:
        self._module = module
        for name, e in entries.items():
            setattr(self, name, AotEntry(module, name, getattr(ext, e["symbol"]), e["args"], misfits))
        for name, value in constants.items():
            setattr(self, name, _thaw(value))

    def __getattr__(self, attr: str) -> Any:  # only for names not set above
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._module), attr)

    def __repr__(self) -> str:
        return f"<AOT kernels {self._module}>"
