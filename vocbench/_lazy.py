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
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "loaded", "pandas", "etree"]


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


def loaded(name: str) -> bool:
    """Whether module ``name`` has been imported (by anyone) in this process."""
    return name in sys.modules


pandas = LazyModule("pandas")
etree = LazyModule("lxml.etree")
