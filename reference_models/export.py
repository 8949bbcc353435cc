"""ONNX export (opset 17) of a reference model: raw head outputs plus a decoded graph (boxes, scores), and a
parity check of onnxruntime against torch.

Graph input ``images: float32[N, 3, S, S]`` (RGB in [0, 1], N dynamic). Outputs: the raw head
(``raw`` for YOLO; ``loc`` and ``logits`` for SSD), then ``boxes: float32[N, D, 4]`` (xyxy, input pixels) and
``scores: float32[N, D, C]`` — the same decoding as ``model.decode``.
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

__all__ = ["export_onnx", "onnx_session", "OnnxRunner", "ParityResult", "parity_check", "output_names"]

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
    """Names of the exported outputs, raw first."""
    return (["raw"] if model.name == "yolov2_tiny" else ["loc", "logits"]) + ["boxes", "scores"]


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


def _providers(device: str) -> list[str]:
    """CUDA only when asked for and really usable, otherwise CPU (quietly)."""
    import onnxruntime as ort

    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers() and torch.cuda.is_available():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def onnx_session(path: str | os.PathLike, device: str = "cpu", threads: int | None = None,
                 profile_prefix: str | None = None):
    """An ``onnxruntime.InferenceSession`` (warnings silenced; CUDA provider only when really available)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = str(profile_prefix)
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=_providers(device))
    except Exception:  # noqa: BLE001 - a CUDA provider that fails to load → CPU
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


class OnnxRunner:
    """Runs an exported model: ``uint8[N, 3, S, S]`` → decoded ``(boxes, scores)`` numpy (like TorchRunner)."""

    def __init__(self, session):
        self.session = session
        self.names = [o.name for o in session.get_outputs()]

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
    """

    images: int
    max_abs_raw: float
    max_abs_scores: float
    detections: int
    identical: bool
    max_abs_box: float
    atol: float

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        verdict = "identical" if self.identical else "DIFFERENT"
        return (f"ONNX parity on {self.images} images: max |Δ raw| = {self.max_abs_raw:.3g}, max |Δ score| = "
                f"{self.max_abs_scores:.3g}; {self.detections} detections after NMS, {verdict} "
                f"(max |Δ box| = {self.max_abs_box:.3g} px)")


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
                        identical=identical, max_abs_box=max_box, atol=atol)
