"""The one place for Numba options.

Policy (STYLE.md §7): ``cache=True`` for plain kernels, fastmath **off** (evaluation must be exact), ``nogil`` so
kernels can run in threads. ``parallel`` kernels use :data:`njit_parallel`. Setting the environment variable
``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python (CI does this once for the kernel tests).
"""

from __future__ import annotations

from numba import njit, prange

__all__ = ["jit", "jit_parallel", "prange"]

#: Decorator for plain (serial) kernels.
jit = njit(cache=True, fastmath=False, nogil=True)

#: Decorator for kernels that use ``prange``.
jit_parallel = njit(cache=True, fastmath=False, nogil=True, parallel=True)
