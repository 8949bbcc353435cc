"""Open an HTML file in real headless Chromium: a screenshot and the DOM after scripts ran.

Used by every report test (``render_html(path)``). Chromium is Debian's ``chromium`` package; ``.ci/run``
installs it. Missing Chromium fails under CI and skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

__all__ = ["chromium_path", "render_html", "assert_renders"]

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    msg = "Chromium not found (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)


def render_html(path: str | os.PathLike, width: int = 1280, height: int = 2400) -> tuple[Path, str]:
    """Screenshot ``path`` to a PNG and dump its DOM. Returns ``(png_path, dom_html)``."""
    exe = chromium_path()
    path = Path(path).resolve()
    out = Path(tempfile.mkdtemp(prefix="vocbench-chromium-"))
    png = out / "shot.png"
    common = [exe, *_FLAGS, f"--user-data-dir={out / 'profile'}", f"--window-size={width},{height}"]
    subprocess.run([*common, f"--screenshot={png}", path.as_uri()], check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*common, "--dump-dom", path.as_uri()], check=True, capture_output=True, timeout=120,
                         text=True).stdout
    return png, dom


def _non_blank(png: Path) -> float:
    """Share of pixels that differ from the most common colour."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    _, counts = np.unique(img, axis=0, return_counts=True)
    return 1.0 - counts.max() / img.shape[0]


def assert_renders(path: str | os.PathLike, headings: list[str], min_svgs: int = 0) -> str:
    """Render ``path`` in Chromium; check it is not blank, has every heading and at least ``min_svgs`` SVGs.

    Returns the DOM for further checks.
    """
    png, dom = render_html(path)
    assert png.exists() and png.stat().st_size > 0, "Chromium wrote no screenshot"
    assert _non_blank(png) > 0.01, f"{path} renders blank"
    for h in headings:
        assert h in dom, f"heading {h!r} missing from the rendered DOM of {path}"
    assert dom.count("<svg") >= min_svgs, f"expected at least {min_svgs} inline SVG figures in {path}"
    return dom
