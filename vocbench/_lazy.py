"""Heavy optional stacks (pandas, lxml) imported on first use, so that ``import vocbench`` and commands that never
touch them start fast.

Use it with the real import for type checkers::

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        import pandas as pd
    else:
        from vocbench._lazy import pandas as pd

``pd.DataFrame`` then imports pandas the first time it runs. To test whether a value *is* a DataFrame without
importing pandas, check :func:`loaded` first (no DataFrame can exist before pandas is imported).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "loaded", "lazy_attributes", "pandas", "etree"]


class LazyModule:
    """Stands for the module ``name``; the first attribute access imports it (then it is a plain lookup)."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_attributes(package: str, public: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for ``package``, whose public names (``public``: name → full module
    name) load their module on first use and are then plain attribute reads; any other name that is a submodule
    imports it (``vocbench.io.voc`` after a bare ``import vocbench.io``, as when the package imported eagerly).

    Use at the package's top level: ``__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)``."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = public.get(name)
        if module is None:
            from importlib.util import find_spec

            if not name.startswith("__") and find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__


def loaded(name: str) -> bool:
    """Whether module ``name`` has been imported (by anyone) in this process."""
    return name in sys.modules


pandas = LazyModule("pandas")
etree = LazyModule("lxml.etree")
