"""ONNX export (opset 17) of a reference model: raw head outputs plus a decoded graph (boxes, scores), and a
parity check of onnxruntime against torch.

Graph input ``images: float32[N, 3, S, S]`` (RGB in [0, 1], N dynamic). Outputs: the raw head
(``raw`` for YOLO, or ``raw_s32`` and ``raw_s16`` with two heads; ``loc`` and ``logits`` for SSD), then
``boxes: float32[N, D, 4]`` (xyxy, input pixels) and ``scores: float32[N, D, C]`` — the same decoding as
``model.decode``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reference_models.predict import PostprocessConfig, postprocess

__all__ = ["export_onnx", "onnx_session", "onnx_provider", "OnnxRunner", "ParityResult", "parity_check", "output_names"]

OPSET = 17


class _Decoded(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor):
        raw = self.model(images)
        boxes, scores = self.model.decode(raw)
        raws = raw if isinstance(raw, tuple) else (raw,)
        return (*raws, boxes, scores)


def output_names(model: nn.Module) -> list[str]:
    """Names of the exported outputs, raw first: ``raw`` (one YOLO head) or ``raw_s32, raw_s16`` (one per head),
    ``loc, logits`` (SSD), then ``boxes, scores``."""
    if model.name == "yolov2_tiny":
        strides = tuple(getattr(model, "strides", (32,)))
        raw = ["raw"] if len(strides) == 1 else [f"raw_s{s}" for s in strides]
        return raw + ["boxes", "scores"]
    return ["loc", "logits", "boxes", "scores"]


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = OPSET) -> Path:
    """Export ``model`` (eval mode, CPU) with raw and decoded outputs to ``path``. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    wrapper = _Decoded(model).eval()
    x = torch.zeros(1, 3, model.input_size, model.input_size)
    names = output_names(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (x,), str(path), opset_version=opset, input_names=["images"], output_names=names,
                          dynamic_axes={"images": {0: "batch"}, **{n: {0: "batch"} for n in names}}, dynamo=False)
    import onnx

    onnx.checker.check_model(str(path))
    return path


def _providers(device: str) -> tuple[list[str], str]:
    """The providers to ask for and, when ``device == "cuda"`` cannot be honoured, why (else "")."""
    import onnxruntime as ort

    if device != "cuda":
        return ["CPUExecutionProvider"], ""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return ["CPUExecutionProvider"], (f"this onnxruntime has no CUDAExecutionProvider "
                                          f"(available: {', '.join(ort.get_available_providers())})")
    if not torch.cuda.is_available():
        return ["CPUExecutionProvider"], "no CUDA device is available"
    return ["CUDAExecutionProvider", "CPUExecutionProvider"], ""


def onnx_provider(session) -> str:
    """The execution provider that runs ``session`` (the first one onnxruntime actually registered)."""
    return session.get_providers()[0]


def onnx_session(path: str | os.PathLike, device: str = "cpu", threads: int | None = None,
                 profile_prefix: str | None = None):
    """An ``onnxruntime.InferenceSession`` on ``device`` (onnxruntime's own log output silenced).

    ``device="cuda"`` that cannot be honoured (no CUDA provider in this onnxruntime, no CUDA device, the CUDA
    provider failing to load, or onnxruntime registering only the CPU provider) falls back to the CPU with a
    :class:`RuntimeWarning` saying why; :func:`onnx_provider` tells which provider runs the session.
    """
    import warnings

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = str(profile_prefix)
    providers, why = _providers(device)
    try:
        session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as exc:  # noqa: BLE001 - only when CUDA was asked for: a CUDA provider that fails to load
        if providers == ["CPUExecutionProvider"]:
            raise
        why = f"the CUDA provider failed to load ({type(exc).__name__}: {exc})"
        session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    if device == "cuda" and not why and onnx_provider(session) != "CUDAExecutionProvider":
        why = f"onnxruntime registered {session.get_providers()} only"
    if why:
        warnings.warn(f"{path}: onnxruntime runs on CPUExecutionProvider, not CUDA: {why}", RuntimeWarning,
                      stacklevel=2)
    return session


class OnnxRunner:
    """Runs an exported model: ``uint8[N, 3, S, S]`` → decoded ``(boxes, scores)`` numpy (like TorchRunner)."""

    def __init__(self, session):
        self.session = session
        self.names = [o.name for o in session.get_outputs()]
        #: the execution provider that actually runs (``CPUExecutionProvider`` after a CUDA fallback)
        self.provider = onnx_provider(session)

    def raw(self, images: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(images, dtype=np.float32) / np.float32(255.0)
        return self.session.run(None, {"images": x})

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outs = self.raw(images)
        return outs[-2], outs[-1]


@dataclass(frozen=True)
class ParityResult:
    """onnxruntime vs torch on the same images.

    Attributes:
        images: images compared.
        max_abs_raw: max |onnx − torch| over the raw head outputs.
        max_abs_scores: max |onnx − torch| over decoded scores.
        detections: kept detections (torch).
        identical: same kept detections (count, classes, order) with boxes and scores within ``atol``.
        max_abs_box: max |onnx − torch| over kept boxes (input pixels).
        provider: the onnxruntime execution provider that ran (``CPUExecutionProvider``, ...).
    """

    images: int
    max_abs_raw: float
    max_abs_scores: float
    detections: int
    identical: bool
    max_abs_box: float
    atol: float
    provider: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        verdict = "identical" if self.identical else "DIFFERENT"
        return (f"ONNX parity on {self.images} images: max |Δ raw| = {self.max_abs_raw:.3g}, max |Δ score| = "
                f"{self.max_abs_scores:.3g}; {self.detections} detections after NMS, {verdict} "
                f"(max |Δ box| = {self.max_abs_box:.3g} px)" + (f"; onnxruntime on {self.provider}" if self.provider
                                                                   else ""))


def _canonical(dets: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detections in a backend-independent order (label, then box rounded to 0.01 px): boxes of equal or nearly
    equal score may come out of NMS in either order."""
    boxes, scores, labels = dets
    key = np.round(boxes, 2)
    order = np.lexsort((key[:, 3], key[:, 2], key[:, 1], key[:, 0], labels))
    return boxes[order], scores[order], labels[order]


@torch.no_grad()
def parity_check(model: nn.Module, session, images: np.ndarray, cfg: PostprocessConfig = PostprocessConfig(),
                 atol: float = 1e-3, batch_size: int = 32) -> ParityResult:
    """Compare torch and onnxruntime on ``uint8[N, 3, S, S]`` images (raw outputs and post-NMS detections), in
    batches of ``batch_size``."""
    model = model.cpu().eval()
    runner = OnnxRunner(session)
    max_raw = max_scores = max_box = 0.0
    identical, n = True, 0
    for start in range(0, len(images), batch_size):
        chunk = np.ascontiguousarray(images[start:start + batch_size])
        raw = model(torch.from_numpy(chunk).float().div_(255.0))
        raws = raw if isinstance(raw, tuple) else (raw,)
        tb, ts = model.decode(raw)
        outs = runner.raw(chunk)
        max_raw = max(max_raw, *(float(np.abs(o - r.numpy()).max()) for o, r in zip(outs[:len(raws)], raws)))
        max_scores = max(max_scores, float(np.abs(outs[-1] - ts.numpy()).max()))
        for i in range(len(chunk)):
            a = _canonical(postprocess(tb[i].numpy(), ts[i].numpy(), cfg))
            b = _canonical(postprocess(outs[-2][i], outs[-1][i], cfg))
            n += len(a[1])
            if len(a[1]) != len(b[1]) or not np.array_equal(a[2], b[2]):
                identical = False
                continue
            if len(a[1]):
                max_box = max(max_box, float(np.abs(a[0] - b[0]).max()))
                if not (np.allclose(a[0], b[0], atol=atol * model.input_size) and np.allclose(a[1], b[1], atol=atol)):
                    identical = False
    return ParityResult(images=len(images), max_abs_raw=max_raw, max_abs_scores=max_scores, detections=n,
                        identical=identical, max_abs_box=max_box, atol=atol, provider=runner.provider)
