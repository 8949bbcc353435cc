"""Speed profile of a reference model: per-stage latency (preprocess, network, decode, NMS) as median and p90
over repeats after warm-up, throughput, parameters and FLOPs, torch.profiler's top operators and onnxruntime's
own per-operator profile.

Stages, per batch of ``B`` images:
    preprocess — read the JPEGs, squash-resize, stack, scale to float [0, 1];
    network — the forward pass to the raw head outputs (torch module or onnxruntime session);
    decode — raw outputs → boxes and per-class scores (torch: ``model.decode``; onnx: the decoded graph's extra
        time, i.e. ``run(all outputs) − run(raw outputs)``);
    nms — score threshold, per-class NMS with :func:`vocbench.nms.batched_nms`, top-k, for every image.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reference_models.augment import resize_only
from reference_models.data import read_image
from reference_models.predict import PostprocessConfig, postprocess

__all__ = ["StageTiming", "ProfileResult", "profile_model", "count_flops", "count_parameters"]

STAGES = ("preprocess", "network", "decode", "nms")


@dataclass(frozen=True)
class StageTiming:
    """One (batch size, stage) timing in milliseconds per batch."""

    batch: int
    stage: str
    median_ms: float
    p90_ms: float
    repeats: int


@dataclass(frozen=True)
class ProfileResult:
    """Everything :func:`profile_model` measured.

    Attributes:
        model, backend, device: what ran (``torch``/``onnx``; ``cpu``/``cuda``); hardware: CPU/GPU name.
        input_size: network input side (pixels); parameters; flops: forward FLOPs per image (2 per MAC).
        timings: per batch size and stage; throughput: batch size → images/s (1000·B / Σ stage medians).
        top_ops: torch.profiler's top operators (self time); onnx_ops: onnxruntime's per-op-type totals.
    """

    model: str
    backend: str
    device: str
    hardware: str
    input_size: int
    parameters: int
    flops: float
    threads: int
    timings: tuple[StageTiming, ...]
    throughput: dict = field(default_factory=dict)
    top_ops: tuple = ()
    onnx_ops: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["throughput"] = {str(k): v for k, v in self.throughput.items()}
        return d

    def to_pandas(self) -> pd.DataFrame:
        """One row per batch size: median and p90 of every stage (ms per batch) and throughput."""
        rows = []
        for b in sorted({t.batch for t in self.timings}):
            row = {"batch": b}
            for t in self.timings:
                if t.batch == b:
                    row[f"{t.stage}_median_ms"] = t.median_ms
                    row[f"{t.stage}_p90_ms"] = t.p90_ms
            row["images_per_s"] = self.throughput.get(b, float("nan"))
            rows.append(row)
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        head = (f"{self.model} ({self.backend}, {self.device}, {self.hardware}): {self.parameters:,} parameters, "
                f"{self.flops / 1e9:.3f} GFLOPs/image at {self.input_size} px")
        return head + "\n" + self.to_pandas().to_string(index=False, float_format=lambda v: f"{v:.3f}")


def count_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: torch.nn.Module) -> float:
    """Forward FLOPs for one image (torch.utils.flop_counter: 2 FLOPs per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, model.input_size, model.input_size)
    model = model.cpu().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return float(fc.get_total_flops())


def _hardware(device: str) -> str:
    if device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def _stats(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1000.0
    return float(np.median(a)), float(np.percentile(a, 90))


#: Lines Kineto (torch.profiler's C++ tracer) writes straight to the process's stderr on every start/stop, and
#: its CUDA probe on machines without a GPU: noise, not news.
_KINETO_NOISE = re.compile(r"^(USDT:|ERROR:.*(gpuGetDeviceCount|DeviceProperties)|WARNING:.*(CUPTI|cupti))")


@contextlib.contextmanager
def _kineto_quiet():
    """Capture native (fd 2) stderr while torch.profiler runs; pass on every line that is not Kineto's noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded, some notebooks): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode(errors="replace").splitlines():
                if line.strip() and not _KINETO_NOISE.search(line):
                    print(line, file=sys.stderr)


def _preprocessor(size: int):
    def preprocess(batch_paths):
        arr = np.stack([resize_only(read_image(p), size) for p in batch_paths]).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(arr, dtype=np.float32) / np.float32(255.0)

    return preprocess


def _time_once(model, session, raw_names, backend: str, device: str, x: np.ndarray, sync, cfg: PostprocessConfig
               ) -> tuple[float, float, float]:
    """(network, decode, nms) seconds of one batch already preprocessed into ``x``."""
    t1 = time.perf_counter()
    if backend == "torch":
        with torch.no_grad():
            raw = model(torch.from_numpy(x).to(device))  # host→device copy counts as network
            sync()
            t2 = time.perf_counter()
            boxes, scores = model.decode(raw)
            boxes, scores = boxes.float().cpu().numpy(), scores.float().cpu().numpy()
            t3 = time.perf_counter()
        net, dec = t2 - t1, t3 - t2
    else:
        session.run(raw_names, {"images": x})
        t2 = time.perf_counter()
        outs = session.run(None, {"images": x})
        t3 = time.perf_counter()
        boxes, scores = outs[-2], outs[-1]
        net, dec = t2 - t1, max(0.0, (t3 - t2) - (t2 - t1))
    t4 = time.perf_counter()
    for i in range(len(x)):
        postprocess(boxes[i], scores[i], cfg)
    return net, dec, time.perf_counter() - t4


def _time_batches(run_once, preprocess, paths: list[Path], batches: Sequence[int], repeats: int, warmup: int
                  ) -> tuple[list[StageTiming], dict[int, float]]:
    """Median/p90 per stage and batch size after ``warmup`` runs; throughput from the sum of stage medians."""
    timings: list[StageTiming] = []
    throughput: dict[int, float] = {}
    for b in batches:
        batch_paths = [paths[i % len(paths)] for i in range(b)]
        samples: dict[str, list[float]] = {s: [] for s in STAGES}
        for r in range(warmup + repeats):
            t0 = time.perf_counter()
            x = preprocess(batch_paths)
            pre = time.perf_counter() - t0
            net, dec, nms = run_once(x)
            if r >= warmup:
                for stage, value in zip(STAGES, (pre, net, dec, nms)):
                    samples[stage].append(value)
        total = 0.0
        for s in STAGES:
            med, p90 = _stats(samples[s])
            total += med
            timings.append(StageTiming(b, s, med, p90, repeats))
        throughput[b] = 1000.0 * b / total if total > 0 else float("nan")
    return timings, throughput


def _torch_top_ops(model, x: torch.Tensor, device: str, sync, top_ops: int) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with _kineto_quiet():
        with torch.no_grad(), profile(activities=acts) as prof:
            for _ in range(3):
                model.decode(model(x))
            sync()
        averages = prof.key_averages()
    return [{"op": ev.key, "calls": int(ev.count), "self_cpu_ms": ev.self_cpu_time_total / 1000.0,
             "cpu_total_ms": ev.cpu_time_total / 1000.0}
            for ev in sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:top_ops]]


def _onnx_top_ops(onnx_path, device: str, threads: int, x: np.ndarray, top_ops: int) -> list[dict]:
    from reference_models.export import onnx_session

    prefix = Path(tempfile.mkdtemp(prefix="vocbench-ortprof-")) / "ort"
    psess = onnx_session(onnx_path, device, threads=threads, profile_prefix=prefix)
    for _ in range(3):
        psess.run(None, {"images": x})
    prof_file = psess.end_profiling()
    events = json.loads(Path(prof_file).read_text())
    agg: dict[str, list[float]] = {}
    for ev in events:
        if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            op = ev.get("args", {}).get("op_name", "?")
            a = agg.setdefault(op, [0, 0.0])
            a[0] += 1
            a[1] += ev.get("dur", 0) / 1000.0
    return [{"op": op, "calls": n, "total_ms": ms}
            for op, (n, ms) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:top_ops]]


def profile_model(model: torch.nn.Module, image_paths: Sequence[str | os.PathLike], backend: str = "torch",
                  device: str = "cpu", batches: Sequence[int] = (1, 8, 32), repeats: int = 20, warmup: int = 3,
                  onnx_path: str | os.PathLike | None = None, threads: int | None = None, top_ops: int = 12,
                  cfg: PostprocessConfig = PostprocessConfig()) -> ProfileResult:
    """Time every stage for each batch size (median and p90 over ``repeats`` after ``warmup`` runs).

    Args:
        model: an eval-mode reference model (its config gives the input size).
        image_paths: JPEGs to read (cycled to fill batches).
        backend: ``torch`` or ``onnx`` (``onnx_path`` required; exported on the fly to a temp file if None).
        device: ``cpu`` or ``cuda``; ``cuda`` without a CUDA device warns and profiles on the CPU (the result's
            ``device`` says which ran).
    """
    from reference_models.export import export_onnx, onnx_session, output_names

    if backend not in ("torch", "onnx"):
        raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
    if device == "cuda" and not torch.cuda.is_available():
        import warnings

        warnings.warn("profile: --device cuda but no CUDA device is available; profiling on the CPU", stacklevel=2)
        device = "cpu"
    threads = threads or torch.get_num_threads()
    size = model.input_size
    model = model.eval()
    params, flops = count_parameters(model), count_flops(model)
    model = model.to(device)
    paths = [Path(p) for p in image_paths]
    if not paths:
        raise ValueError("no images to profile")
    session, raw_names = None, None
    if backend == "onnx":
        if onnx_path is None:
            onnx_path = Path(tempfile.mkdtemp(prefix="vocbench-onnx-")) / f"{model.name}.onnx"
            export_onnx(model, onnx_path)
            model.to(device)
        session = onnx_session(onnx_path, device, threads=threads)
        raw_names = output_names(model)[:-2]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    preprocess = _preprocessor(size)

    def run_once(x):
        return _time_once(model, session, raw_names, backend, device, x, sync, cfg)

    timings, throughput = _time_batches(run_once, preprocess, paths, batches, repeats, warmup)
    sample = preprocess([paths[i % len(paths)] for i in range(min(8, max(batches)))])
    ops: list[dict] = []
    if backend == "torch" and top_ops:
        ops = _torch_top_ops(model, torch.from_numpy(sample).to(device), device, sync, top_ops)
    onnx_ops: list[dict] = []
    if backend == "onnx" and top_ops:
        onnx_ops = _onnx_top_ops(onnx_path, device, int(threads), sample, top_ops)
    return ProfileResult(model=model.name, backend=backend, device=device, hardware=_hardware(device),
                         input_size=size, parameters=params, flops=flops, threads=int(threads),
                         timings=tuple(timings), throughput=throughput, top_ops=tuple(ops), onnx_ops=tuple(onnx_ops))
