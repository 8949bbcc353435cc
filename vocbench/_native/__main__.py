"""``python -m vocbench._native build [--force]`` builds the ahead-of-time kernels (a no-op when fresh);
``python -m vocbench._native status`` says whether the build is fresh and which path each kernel module takes."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocbench._native", description=__doc__)
    parser.add_argument("action", choices=("build", "status"))
    parser.add_argument("--force", action="store_true", help="rebuild even when the build is fresh")
    args = parser.parse_args(argv)
    from vocbench._native import build as _build

    if args.action == "status":
        return _status(_build)
    try:
        _build.build(force=args.force)
    except _build.BuildError as exc:
        print(f"vocbench._native: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _status(_build) -> int:
    from vocbench._native import describe, kernels

    why = _build.stale()
    for module in _build.kernel_modules():
        kernels(module)
    lines = ["fresh" if not why else f"stale: {why}", *(f"  {m}: {p}" for m, p in describe().items())]
    try:
        print("\n".join(lines))
    except BrokenPipeError:  # `... status | head -1`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's exit flush quiet
    return 0 if not why else 1


if __name__ == "__main__":
    sys.exit(main())
