"""Training loop for both reference detectors: seeded, resumable, per-epoch CSV of losses and validation mAP
(scored by vocbench's engine), mixed precision on GPU, DistributedDataParallel under ``torchrun``.

A run folder holds ``train_config.json``, ``metrics.csv`` (one row per epoch), ``last.pt`` (everything needed
to resume) and ``model.pt`` (the weights of the best validation epoch — EMA weights — with the model config).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from reference_models.augment import AugmentConfig
from reference_models.checkpoint import load_checkpoint, plain_state
from reference_models.config import MODEL_ALIASES, TrainConfig
from reference_models.data import DetectionData, ImageCache, collate, normalised_truth, to_input
from reference_models.losses import SSDLoss, YoloLoss
from reference_models.predict import PostprocessConfig, TorchRunner, predict_dataset

__all__ = ["TrainConfig", "MODEL_ALIASES", "train", "fit_anchors", "create_model", "create_loss", "train_step",
           "ModelEMA", "score_detections", "ddp_selftest", "package_weights", "check_selection_split",
           "autocast_dtype", "cpu_has_amx"]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def fit_anchors(boxes: list[np.ndarray], k: int, grid: int, seed: int = 0) -> np.ndarray:
    """YOLO anchors: :class:`vocbench.anchors.IoUKMeans` on normalised truth (w, h), in grid units, by area."""
    from vocbench.anchors import IoUKMeans

    wh = np.concatenate([b[:, 2:] - b[:, :2] for b in boxes if len(b)], 0).astype(np.float64)
    wh = wh[(wh > 0).all(1)]
    centres = IoUKMeans(n_clusters=k, n_init=5, random_state=seed).fit(wh).cluster_centers_
    centres = np.asarray(centres, np.float64) * grid
    return centres[np.argsort(centres.prod(1))]


def create_model(cfg: TrainConfig, classes, anchors: np.ndarray | None = None) -> nn.Module:
    if cfg.model == "yolov2_tiny":
        from reference_models.yolo import YoloV2Tiny
        return YoloV2Tiny(len(classes), anchors, width=cfg.width, input_size=cfg.input_size, classes=classes,
                          strides=tuple(cfg.strides))
    from reference_models.ssd import SSDLite
    return SSDLite(len(classes), width=cfg.width, input_size=cfg.input_size, classes=classes,
                   extra_stride8=cfg.extra_stride8)


def create_loss(model: nn.Module, loss: str = "modern") -> nn.Module:
    if model.name == "yolov2_tiny":
        return YoloLoss(model.anchors, model.num_classes, loss, head_anchors=model.head_anchors)
    return SSDLoss(model.priors)


class ModelEMA:
    """Exponential moving average of weights (decay ramps up: ``min(decay, (1+n)/(10+n))``)."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


def train_step(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, batch, device: torch.device,
               scaler: torch.amp.GradScaler | None = None, amp: bool = False,
               amp_dtype: torch.dtype | None = None) -> tuple[float, dict]:
    """One optimisation step on a collated batch; returns the loss and its parts. ``amp`` runs the forward pass
    under autocast in ``amp_dtype`` (default float16 on CUDA; bf16 on CPU); the loss is computed in float32."""
    images, boxes, labels, mask = batch
    # channels-last: 1.5x faster convolutions on CPU (measured on AVX2, batch 16) and the layout tensor cores want
    x = to_input(images.to(device, non_blocking=True)).contiguous(memory_format=torch.channels_last)
    boxes, labels, mask = boxes.to(device), labels.to(device), mask.to(device)
    dtype = amp_dtype or (torch.float16 if device.type == "cuda" else torch.bfloat16)
    with torch.autocast(device_type=device.type, dtype=dtype, enabled=amp):
        raw = model(x)
    loss, parts = loss_fn(raw, boxes, labels, mask)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
    return float(loss.detach()), parts


def score_detections(dataset, dets, metrics=("voc07",)) -> dict[str, float]:
    """mAP per metric by :func:`vocbench.evaluate`."""
    from vocbench import evaluate

    result = evaluate(dataset, dets, metrics=tuple(metrics))
    return {m: float(result.mAP.get(m, float("nan"))) for m in metrics}


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            from vocbench.errors import VocbenchError
            raise VocbenchError("--device cuda: no CUDA device is available (use --device cpu or auto)")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def _lr_at(it: int, total: int, cfg: TrainConfig) -> float:
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    t = (it - cfg.warmup_iters) / max(1, total - cfg.warmup_iters)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX (bf16 tiles): then bf16 autocast speeds CPU training up (1.6× per YOLO step,
    measured on a Sapphire Rapids core); without it bf16 on CPU is emulated and slower, so it stays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "amx_bf16" in flags


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The autocast dtype of a run: bf16 on CUDA (no loss scaling needed) and on AMX CPUs; None = fp32."""
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_amx() else None


def check_selection_split(train_ds, val_ds, val_set: str) -> None:
    """Model selection must never see test images: refuse a validation split named ``test`` or one that shares an
    image with the training sets (the test split is scored once, at the end, by ``vocbench predict`` + ``eval``)."""
    from vocbench.errors import VocbenchError

    split = val_set.split(":", 1)[-1].strip().lower()
    if split == "test":
        raise VocbenchError(f"--val-set {val_set}: model selection on the test split leaks it; select on a split "
                            "held out from training (the synthetic set writes train/val/trainval/test: train on "
                            "2007:train, select on 2007:val)")
    def keys(ds) -> set[tuple[str, str]]:
        return set(zip(ds.image_years.tolist(), ds.image_ids.tolist()))

    shared = keys(train_ds) & keys(val_ds)
    if shared:
        year, image = sorted(shared)[0]
        raise VocbenchError(f"--val-set {val_set}: {len(shared)} of its images are also training images "
                            f"(e.g. VOC{year}/{image}); select on a held-out split")


@dataclass
class _Run:
    """The live objects of a training run (what :func:`train`'s helpers pass around)."""

    cfg: TrainConfig
    out: Path
    device: torch.device
    rank: int
    world: int
    main: bool
    model: nn.Module
    net: nn.Module
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: ModelEMA | None
    start_epoch: int = 0
    best: float = -1.0
    history: list = field(default_factory=list)
    generator: torch.Generator | None = None  # the loader's shuffling generator
    resume_rng: dict | None = None  # RNG states read from last.pt, restored once the loader exists


def _init_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    rank, world, local_rank = _dist_info()
    device = _resolve_device(cfg.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def _training_images(cfg: TrainConfig, main: bool, world: int, progress: bool):
    from vocbench.io.voc import load_voc

    train_ds = load_voc(cfg.data, cfg.sets)
    boxes, labels = normalised_truth(train_ds)
    size = None if cfg.native_cache else cfg.input_size
    cache = ImageCache(train_ds, size, cfg.cache_dir, progress=progress and main) if main else None
    if world > 1:
        dist.barrier()
    if cache is None:
        cache = ImageCache(train_ds, size, cfg.cache_dir)
    return train_ds, boxes, labels, cache


def _build_run(cfg: TrainConfig, classes, boxes, out: Path, device: torch.device, rank: int, world: int,
               resume: bool, log: Callable[[str], None]) -> _Run:
    """Model, loss, optimizer, scaler and EMA — restored from ``out/last.pt`` when resuming."""
    ckpt_path = out / "last.pt"
    state = None
    if resume and (ckpt_path.exists() or ckpt_path.is_symlink()):
        state = _resume_state(ckpt_path)
        anchors = np.asarray(state["model_config"].get("anchors")) if "anchors" in state["model_config"] else None
        _check_resumed_layout(state["model_config"], cfg, ckpt_path)
    else:
        anchors = fit_anchors(boxes, cfg.num_anchors, cfg.input_size // 32, cfg.seed) \
            if cfg.model == "yolov2_tiny" else None
    model = create_model(cfg, classes, anchors).to(device, memory_format=torch.channels_last)
    loss_fn = create_loss(model, cfg.loss).to(device)
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    fp16 = autocast_dtype(device, cfg.amp) == torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=fp16 and device.type == "cuda")
    ema = ModelEMA(model) if cfg.ema else None
    run = _Run(cfg, out, device, rank, world, rank == 0, model, model, loss_fn, optimizer, scaler, ema)
    if state is not None:
        _restore(run, state, ckpt_path)
        run.start_epoch, run.best, run.history = state["epoch"] + 1, state.get("best", -1.0), state.get("history", [])
        run.resume_rng = state.get("rng") if isinstance(state.get("rng"), dict) else None
        if run.main:
            log(f"resuming {out} at epoch {run.start_epoch + 1}")
    if world > 1:
        run.net = nn.parallel.DistributedDataParallel(model,
                                                      device_ids=[device.index] if device.type == "cuda" else None)
    return run


def _resume_state(path: Path) -> dict:
    """``OUT/last.pt`` read weights-only (:func:`~reference_models.checkpoint.load_checkpoint`); a file that is not
    a resume state is one line naming it."""
    from vocbench.errors import InputError

    hint = "; delete it or start over with --no-resume"
    state = load_checkpoint(path, "resume state", hint)
    need = ("model", "optimizer", "scaler", "epoch", "model_config")
    if not isinstance(state, dict) or not all(k in state for k in need) or not isinstance(state["model_config"], dict):
        raise InputError(f"{path}: resume state lacks {', '.join(need)}{hint}")
    anchors = state["model_config"].get("anchors")
    if anchors is not None:
        try:
            a = np.asarray(anchors, dtype=np.float64)
        except (TypeError, ValueError):
            a = np.zeros((0, 0))
        if a.ndim != 2 or a.shape[1:] != (2,) or not 0 < len(a) <= 100 or not (np.isfinite(a) & (a > 0)).all():
            raise InputError(f"{path}: resume state anchors are not 1..100 positive (w, h) pairs{hint}")
    return state


def _restore(run: _Run, state: dict, path: Path) -> None:
    """Model, optimizer, scaler and EMA from the resume state; a state that does not fit is one line."""
    from vocbench.errors import InputError

    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scaler.load_state_dict(state["scaler"])
        if run.ema is not None and state.get("ema") is not None:
            run.ema.ema.load_state_dict(state["ema"])
            run.ema.updates = int(state.get("ema_updates", 0))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: resume state does not fit this run ({reason}); start over with --no-resume") \
            from None


def _check_resumed_layout(saved: dict, cfg: TrainConfig, path: Path) -> None:
    """A resumed run must keep its grid layout (YOLO heads, SSD stride-8 map): else one line, not a state_dict
    traceback."""
    from vocbench.errors import VocbenchError

    have = (list(saved.get("strides", [32])), bool(saved.get("extra_stride8", False)))
    want = (list(cfg.strides) if cfg.model == "yolov2_tiny" else [32], bool(cfg.extra_stride8))
    if saved.get("model") == cfg.model and have != want:
        raise VocbenchError(f"{path}: this run was trained with strides {have[0]}, stride-8 map {have[1]}; resume "
                            f"it with the same options or start over with --no-resume")


def _loader(cfg: TrainConfig, data: DetectionData, run: _Run):
    sampler = torch.utils.data.distributed.DistributedSampler(data, run.world, run.rank, shuffle=True,
                                                              seed=cfg.seed) if run.world > 1 else None
    gen = torch.Generator().manual_seed(cfg.seed)
    run.generator = gen
    if run.resume_rng is not None:
        _set_rng_states(run.resume_rng, gen)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                                         num_workers=cfg.workers, collate_fn=collate, drop_last=True,
                                         generator=gen, pin_memory=run.device.type == "cuda",
                                         persistent_workers=cfg.workers > 0)
    return loader, sampler


def _rng_states(gen: torch.Generator | None) -> dict:
    """Every random state a resumed run needs to continue bit for bit, as tensors, numbers and lists only (the
    resume state is read with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    version, py_state, gauss = random.getstate()
    states = {"torch": torch.get_rng_state(), "numpy": [str(name), np.asarray(keys).tolist(), int(pos),
                                                        int(has_gauss), float(cached)],
              "python": [int(version), list(py_state), gauss], "loader": gen.get_state() if gen else None}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict, gen: torch.Generator) -> None:
    """Inverse of :func:`_rng_states` (a state this run cannot use is skipped: the run still resumes)."""
    with contextlib.suppress(KeyError, TypeError, ValueError, RuntimeError):
        torch.set_rng_state(states["torch"])
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, cached))
        version, py_state, gauss = states["python"]
        random.setstate((version, tuple(py_state), gauss))
        if states.get("loader") is not None:
            gen.set_state(states["loader"])
        if states.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])


def _validation_set(cfg: TrainConfig, train_ds, progress: bool):
    """The held-out selection split (checked by :func:`check_selection_split`) and its image cache, or None."""
    if not cfg.val_set:
        return None
    from vocbench.io.voc import load_voc

    val_ds = load_voc(cfg.data, [cfg.val_set])
    check_selection_split(train_ds, val_ds, cfg.val_set)
    if cfg.val_images and val_ds.num_images > cfg.val_images:
        val_ds = val_ds.subset_images(np.arange(val_ds.num_images) < cfg.val_images)
    return val_ds, ImageCache(val_ds, cfg.input_size, cfg.cache_dir, progress=progress)


def _train_epoch(run: _Run, loader, epoch: int, iters_per_epoch: int, total_iters: int, progress: bool
                 ) -> tuple[dict[str, float], int, float]:
    """One pass over the loader; returns the summed loss parts, the images seen and the wall time."""
    cfg = run.cfg
    run.net.train()
    t0 = time.perf_counter()
    sums: dict[str, float] = {}
    it_range = loader
    bar = None
    if progress and run.main:
        from tqdm import tqdm
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False)
        it_range = bar
    n_seen = 0
    dtype = autocast_dtype(run.device, cfg.amp)
    for i, batch in enumerate(it_range):
        it = epoch * iters_per_epoch + i
        for g in run.optimizer.param_groups:
            g["lr"] = _lr_at(it, total_iters, cfg)
        loss, parts = train_step(run.net, run.loss_fn, run.optimizer, batch, run.device, run.scaler,
                                 amp=dtype is not None, amp_dtype=dtype)
        if run.ema is not None:
            run.ema.update(run.model)
        n_seen += len(batch[0])
        for k, v in {"loss": loss, **parts}.items():
            sums[k] = sums.get(k, 0.0) + v
        if bar is not None:
            bar.set_postfix(loss=f"{sums['loss'] / (i + 1):.3f}")
    return sums, n_seen, time.perf_counter() - t0


def _end_epoch(run: _Run, row: dict, epoch: int, val, log: Callable[[str], None]) -> None:
    """Rank 0: validate on the selection split, keep the best model, write the CSV and the resume checkpoint."""
    cfg, out = run.cfg, run.out
    eval_model = run.ema.ema if run.ema is not None else run.model
    if val is not None and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
        t1 = time.perf_counter()
        dets = predict_dataset(TorchRunner(eval_model, str(run.device)), val[0], val[1].images, cfg.input_size,
                               PostprocessConfig(), batch_size=32, source=str(out))
        row.update({f"val_{k}": v for k, v in score_detections(val[0], dets).items()})
        row["val_s"] = round(time.perf_counter() - t1, 2)
    run.history.append(row)
    _write_csv(out / "metrics.csv", run.history)
    score = row.get("val_voc07", float("nan"))
    improved = not (score == score) or score >= run.best
    if improved:
        run.best = score if score == score else run.best
        _save_model(out / "model.pt", eval_model, cfg, run.history)
    ema = run.ema
    # plain data only (tensors, numbers, strings, lists, dicts): read back with weights_only=True on resume
    _atomic_torch_save(plain_state({"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
                                    "scaler": run.scaler.state_dict(), "ema": ema.ema.state_dict() if ema else None,
                                    "ema_updates": ema.updates if ema else 0, "epoch": epoch, "best": run.best,
                                    "history": run.history, "model_config": run.model.config,
                                    "train_config": asdict(cfg), "rng": _rng_states(run.generator)}),
                       out / "last.pt")
    log(f"epoch {epoch + 1}/{cfg.epochs}: "
        + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "epoch"))


def _out_of_time(cfg: TrainConfig, started: float, world: int, device: torch.device) -> bool:
    """Whether ``cfg.max_minutes`` is spent (rank 0 decides; every rank gets the same answer under DDP)."""
    if cfg.max_minutes <= 0:
        return False
    flag = torch.tensor([float(time.perf_counter() - started > cfg.max_minutes * 60)], device=device)
    if world > 1:
        dist.broadcast(flag, 0)
    return bool(flag.item())


def _atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: an interrupted save never truncates it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def train(cfg: TrainConfig, progress: bool = False, resume: bool = True, log: Callable[[str], None] = print) -> Path:
    """Train (or resume) a run. Under ``torchrun`` each process trains on its shard (DDP); rank 0 validates on the
    held-out selection split (``cfg.val_set``, never the test split), logs and writes files. Returns the run
    folder."""
    rank, world, device = _init_distributed(cfg)
    _seed_everything(cfg.seed + rank)
    out = Path(cfg.out)
    main = rank == 0
    if main:
        out.mkdir(parents=True, exist_ok=True)
    train_ds, boxes, labels, cache = _training_images(cfg, main, world, progress)
    val = _validation_set(cfg, train_ds, progress) if main else None
    run = _build_run(cfg, train_ds.classes, boxes, out, device, rank, world, resume, log)
    aug = AugmentConfig(**cfg.augment) if cfg.augment else AugmentConfig()
    data = DetectionData(cache, boxes, labels, cfg.input_size, train=True, seed=cfg.seed, augment_config=aug)
    loader, sampler = _loader(cfg, data, run)
    iters_per_epoch = len(loader)
    total_iters = iters_per_epoch * cfg.epochs
    if main:
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
        log(f"{cfg.model}: {sum(p.numel() for p in run.model.parameters()):,} parameters, {len(data)} training "
            f"images, {iters_per_epoch} iterations/epoch on {device} x{world}; selection split: "
            f"{cfg.val_set or 'none'}")
    started = time.perf_counter()
    for epoch in range(run.start_epoch, cfg.epochs):
        data.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        sums, n_seen, train_time = _train_epoch(run, loader, epoch, iters_per_epoch, total_iters, progress)
        row = {"epoch": epoch + 1, "lr": run.optimizer.param_groups[0]["lr"],
               **{k: v / max(1, iters_per_epoch) for k, v in sums.items()},
               "train_s": round(train_time, 2), "images_per_s": round(n_seen * world / max(train_time, 1e-9), 2)}
        if main:
            _end_epoch(run, row, epoch, val, log)
        if _out_of_time(cfg, started, world, device):
            if main:
                log(f"stopping after epoch {epoch + 1}: --max-minutes {cfg.max_minutes:g} reached (resumable)")
            break
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


def _save_model(path: Path, model: nn.Module, cfg: TrainConfig, history: list) -> None:
    meta = {"train_config": asdict(cfg), "epochs_trained": len(history), "history": history}
    sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _atomic_torch_save(plain_state({"config": model.config, "state_dict": sd, "meta": meta}), path)


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


# ------------------------------------------------------------------------------------- DDP self-test (gloo)
def _ddp_worker(rank: int, world: int, init_file: str, result_dir: str, steps: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        from reference_models.yolo import YoloV2Tiny

        torch.manual_seed(0)
        model = YoloV2Tiny(3, [[0.5, 0.5], [1.5, 1.0]], width=0.125, input_size=64)
        ddp = nn.parallel.DistributedDataParallel(model)
        loss_fn = create_loss(model, "essay")
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        g = torch.Generator().manual_seed(100 + rank)  # each rank its own data shard
        losses = []
        for _ in range(steps):
            images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=g)
            boxes = torch.tensor([[[0.1, 0.1, 0.5, 0.6]], [[0.4, 0.3, 0.9, 0.8]]])
            labels = torch.tensor([[rank], [2]])
            mask = torch.ones(2, 1, dtype=torch.bool)
            loss, _ = train_step(ddp, loss_fn, opt, (images, boxes, labels, mask), torch.device("cpu"))
            losses.append(loss)
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        torch.save({"params": flat, "losses": losses}, Path(result_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def ddp_selftest(world_size: int = 2, steps: int = 2, workdir: str | os.PathLike | None = None) -> list[dict]:
    """Run ``steps`` DDP training steps of a tiny YOLO in ``world_size`` CPU processes (gloo backend).

    Returns each rank's ``{"params": flat parameters, "losses": [...]}``; after a correct all-reduce the parameters
    are identical on every rank although each rank saw different data.
    """
    import tempfile

    import torch.multiprocessing as mp

    tmp = Path(workdir or tempfile.mkdtemp(prefix="vocbench-ddp-"))
    tmp.mkdir(parents=True, exist_ok=True)
    init_file = tmp / "init"
    if init_file.exists():
        init_file.unlink()
    mp.spawn(_ddp_worker, args=(world_size, str(init_file), str(tmp), steps), nprocs=world_size, join=True)
    return [load_checkpoint(tmp / f"rank{r}.pt") for r in range(world_size)]  # type: ignore[misc]


def package_weights(run: str | os.PathLike, dest: str | os.PathLike, half: bool = True) -> Path:
    """Copy a run's ``model.pt`` to ``dest/model.pt`` for committing: floating-point tensors stored as float16
    (halves the size; :func:`~reference_models.predict.load_model` loads them back into float32 modules), the
    training history kept, optimizer state dropped. Returns the written path."""
    src = Path(run) / "model.pt" if Path(run).is_dir() else Path(run)
    ckpt = load_checkpoint(src, "model checkpoint")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict) or "config" not in ckpt:
        from vocbench.errors import InputError

        raise InputError(f"{src}: expected a dict with 'config' and 'state_dict'")
    sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "model.pt"
    _atomic_torch_save({"config": ckpt["config"], "state_dict": sd, "meta": ckpt.get("meta", {})}, out)
    return out
