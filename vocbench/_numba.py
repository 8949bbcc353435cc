"""The one place for Numba options.

Policy (STYLE.md §7): ``cache=True`` for plain kernels, fastmath **off** (evaluation must be exact), ``nogil`` so
kernels can run in threads. ``parallel`` kernels use :data:`njit_parallel`. Setting the environment variable
``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python (CI does this once for the kernel tests).

Start-up: Numba's CPU target imports ``numba.np.arraymath`` the first time any kernel is compiled *or loaded from
the cache*, and that module probes for BLAS by importing ``scipy.linalg`` (about 0.15 s, a third of a warm
``vocbench eval``). No vocbench kernel uses BLAS, so :func:`_import_arraymath_without_blas_probe` imports it once
with the probe answered "not found", then restores the flag to what the probe would have found (scipy present →
True); code that really uses BLAS (``np.dot`` in a jitted function) still imports scipy when it is compiled.
"""

from __future__ import annotations

import importlib.util
import sys

from numba import njit, prange

__all__ = ["jit", "jit_parallel", "jit_simd", "jit_inline", "jit_scan", "prange"]

_PROBE = "scipy.linalg.cython_blas"


def _import_arraymath_without_blas_probe() -> None:
    if "numba.np.arraymath" in sys.modules or _PROBE in sys.modules:
        return  # already imported (or scipy.linalg already paid for): nothing to save
    sys.modules[_PROBE] = None  # type: ignore[assignment]  # `import` of a None entry raises ImportError at once
    try:
        import numba.np.arraymath as arraymath
    finally:
        if _PROBE in sys.modules and sys.modules[_PROBE] is None:
            del sys.modules[_PROBE]
    if hasattr(arraymath, "_HAVE_BLAS"):
        arraymath._HAVE_BLAS = importlib.util.find_spec("scipy") is not None


_import_arraymath_without_blas_probe()

#: Decorator for plain (serial) kernels.
jit = njit(cache=True, fastmath=False, nogil=True)

#: Decorator for kernels that use ``prange``.
jit_parallel = njit(cache=True, fastmath=False, nogil=True, parallel=True)

#: Decorator for small scalar kernels with a documented precondition that no division divides by zero (e.g. IoU
#: of positive shapes). NumPy's error model drops the zero-division test Python's model puts before every ``/``
#: (a branch that stops LLVM from vectorising the loops they are inlined in); every result is the same IEEE value.
jit_simd = njit(cache=True, fastmath=False, nogil=True, error_model="numpy")

#: Decorator for small helpers of a kernel that must cost nothing as functions (the byte scanner's steps): Numba
#: inlines them into their caller at the IR level, so splitting a kernel into named steps keeps its speed.
jit_inline = njit(cache=True, fastmath=False, nogil=True, inline="always")

#: Decorator for byte-scanner kernels, which allocate nothing and take every array from their caller: without the
#: Numba runtime (NRT) no reference count is kept for the arrays passed down to their steps (with it, each inlined
#: step leaves atomic increments and decrements in the scanner's loop that refcount pruning does not remove).
jit_scan = njit(cache=True, fastmath=False, nogil=True, _nrt=False)  # type: ignore[call-overload]
