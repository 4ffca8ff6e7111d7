"""The one training loop: every model's trainer (training/train/<model>.py) plugs into it.

A trainer loads its data, builds its model and hands both to `fit` as a `Task`: the model,
its batches, its loss, its validation and how its checkpoints are written. The loop owns
everything else, the same way for every model:

    device        `runtime(arg)`: cpu / cuda / cuda:N, or one GPU per process under torchrun
    processes     torchrun with WORLD_SIZE > 1: gloo on CPU, nccl on GPU; rank 0 broadcasts the
                  initial weights and every step averages the gradients over ranks (an explicit
                  all-reduce, so a model may be called through any of its methods, not only
                  forward); only rank 0 validates and writes files
    precision     bf16 autocast on CUDA when cfg.amp, fp32 on CPU
    optimizer     AdamW, weight decay on matrices only, gradient clipping at cfg.grad_clip
    schedule      linear warm-up over cfg.warmup steps, then cosine to lr * min_lr_ratio at cfg.steps
    caps          cfg.stop_at (stop after that many steps of the planned schedule: resume later)
                  and cfg.max_minutes (the whole run, loading included: the schedule then follows
                  the clock, so it still ends at its floor, and time is kept back for the end),
                  cfg.pause_minutes (stop by the clock with the step schedule untouched, saving last:
                  one run split over several device calls, each under its own time limit)
    validation    every cfg.val_every steps and at the end: task.validate() -> named metrics;
                  the best checkpoint by task.best_metric (task.best_mode "min" or "max")
    files in OUT  config.json        the run: model and train config, data, world size
                  log.jsonl          a row per cfg.log_every steps: step (steps done), s, lr, loss,
                                     grad_norm and the task's loss parts, averaged over the rows' steps
                  val.jsonl          a row per validation: step, train_s and the metrics
                  best.safetensors + best.json     the shippable form (fp16), best validation
                  last.safetensors + last.json     fp32 with all training state, for --resume
                  last.optim.safetensors + last.state.json   optimizer moments and loop state
                  final.json         task.final(best) plus steps, best step, time, world size
                  every file written whole or not at all (engine/files.py)
    resume        `fit(..., resume=OUT/last)`: the trainer loads the model from last itself
                  (`read_state` gives it the train config); the loop restores the optimizer and
                  continues at the saved step with the same learning-rate schedule
    randomness    the trainer calls `seed_everything(cfg.seed)` before it builds the model; the
                  loop then seeds torch and the task's batch stream with one number per rank and
                  start step, so a resumed or multi-process run draws fresh, repeatable batches
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from abc import ABC, abstractmethod
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from engine.device import pick_device
from engine.errors import InputError
from engine.files import write_weights_and_config
from engine.safe_io import output_path, read_json

FINAL_RESERVE_S = 15.0          # kept back from max_minutes for the last validation and the saves


@dataclass
class LoopConfig:
    """What the loop reads of a trainer's TrainConfig (which subclasses this one)."""
    steps: int = 1000               # the planned schedule
    lr: float = 3e-4
    min_lr_ratio: float = 0.05      # cosine decays to lr * this
    warmup: int = 100
    weight_decay: float = 0.0       # AdamW, on matrices only
    betas: tuple = (0.9, 0.99)
    grad_clip: float = 1.0
    val_every: int = 500
    log_every: int = 50
    seed: int = 0
    amp: bool = True                # bf16 autocast on CUDA (always fp32 on CPU)
    max_minutes: float = 0.0        # wall-clock cap for the whole run (0 = none)
    stop_at: int = 0                # stop after this many steps of the schedule (0 = run it all)
    pause_minutes: float = 0.0      # stop after this many minutes (loading included), schedule untouched

    def __post_init__(self):
        self.betas = tuple(self.betas)                  # JSON gives a list


# -- config files -------------------------------------------------------------------------------
def read_run_config(path, train_cls) -> tuple[dict, dict]:
    """configs/*.json {"model": {...}, "train": {...}, "comment": "..."} -> (model dict, train
    dict), with the train keys and their value types checked against the dataclass
    train_cls; no path -> ({}, {}). The model keys are the model config's own to check
    (its from_dict)."""
    if not path:
        return {}, {}
    doc = read_json(path, "config file")
    unknown = sorted(set(doc) - {"model", "train", "comment"})
    if unknown:
        raise InputError(f"config file {path}", f"unknown section(s) {', '.join(unknown)}",
                         "the sections are model, train and comment")
    for part in ("model", "train"):
        if not isinstance(doc.get(part, {}), dict):
            raise InputError(f"config file {path}", f"'{part}' must be a JSON object of settings")
    check_train_keys(doc.get("train", {}), train_cls, f"config file {path}")
    return dict(doc.get("model", {})), dict(doc.get("train", {}))


_JSON_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "tuple": (list, tuple)}


def check_train_keys(train: dict, train_cls, where: str) -> None:
    """Unknown keys and values of the wrong JSON type are refused, naming the key."""
    known = {f.name: f for f in fields(train_cls)}
    bad = sorted(set(train) - set(known))
    if bad:
        raise InputError(where, f"unknown train key(s) {', '.join(bad)}", f"known: {', '.join(sorted(known))}")
    for k, v in train.items():
        kinds = str(known[k].type).replace(" ", "").split("|")
        ok = ("None" in kinds and v is None) or any(
            isinstance(v, t) and not (isinstance(v, bool) and k_ != "bool")
            for k_ in kinds for t in _JSON_TYPES.get(k_, (object,)))
        if not ok:
            raise InputError(where, f"train.{k} is {json.dumps(v)}, expected {' or '.join(kinds)}")


def add_run_arguments(p, out_default: str | None, config_example: str) -> None:
    """The flags every `tdmm train <model>` has; a trainer adds its own after these."""
    p.add_argument("--data", required=True, help="dataset folder (clip folder or tdmm synth shards)")
    p.add_argument("--out", default=out_default, required=out_default is None,
                   help="run folder for checkpoints and logs" + (f" (default {out_default})" if out_default else ""))
    p.add_argument("--config", default=None, help=f"JSON config {{model: ..., train: ...}} (e.g. {config_example})")
    p.add_argument("--resume", default=None, metavar="OUT/last",
                   help="continue a run from its last checkpoint (its own config; --steps etc. still apply)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 (torchrun picks per rank)")
    p.add_argument("--steps", type=int, default=None, help="override train.steps (the planned schedule)")
    p.add_argument("--seed", type=int, default=None, help="override train.seed")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after STEP steps of the planned schedule (resume later with --resume)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock cap for the whole run: training ends early with its schedule finished")
    p.add_argument("--pause-minutes", type=float, default=None,
                   help="stop after this many minutes with the schedule untouched (resume later with --resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


# Flags -> train keys of the trainers that take add_schedule_arguments (resolve_config's `flags`).
SCHEDULE_FLAGS = {"batch_size": "batch_size", "lr": "lr", "val_every": "val_every", "max_clips": "max_clips"}


def add_schedule_arguments(p, batch_unit: str, val_aliases: tuple = ()) -> None:
    """--batch-size / --lr / --val-every / --max-clips, overriding the train keys SCHEDULE_FLAGS names."""
    p.add_argument("--batch-size", type=int, help=f"{batch_unit} per step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--val-every", *val_aliases, dest="val_every", type=int, help="steps between validations")
    p.add_argument("--max-clips", type=int, help="use only the first N train clips")


def resolve_config(args, train_cls, check_model=None, flags: dict | None = None):
    """(model config dict, train config, loop state or None) of a run: from --resume's saved
    state (a resumed run runs to the end unless --stop-at is given again) or from --config;
    then the command-line overrides, `flags` mapping extra argument names to train keys."""
    state = None
    check_out(args.out)
    if getattr(args, "resume", None):
        state = read_state(args.resume)
        model, train = {}, {**state["train"], "stop_at": 0, "pause_minutes": 0.0}
    else:
        model, train = read_run_config(args.config, train_cls)
        if check_model is not None:
            try:
                check_model(model)
            except ValueError as e:
                raise InputError(f"config file {args.config}", f"model: {e}") from None
    for flag, key in {"steps": "steps", "seed": "seed", "stop_at": "stop_at", "max_minutes": "max_minutes",
                      "pause_minutes": "pause_minutes", **(flags or {})}.items():
        if getattr(args, flag, None) is not None:
            train[key] = getattr(args, flag)
    return model, train_cls(**train), state


def warmup_cosine(step: int, progress: float, lr: float, warmup: int, min_lr_ratio: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine from lr down to lr * min_lr_ratio as
    `progress` goes from 0 to 1 (clamped)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def lr_at(step: int, cfg: LoopConfig, time_frac: float = 0.0) -> float:
    """Learning rate of 0-based step `step`: the cosine runs over the steps after the warm-up;
    under a wall-clock cap, progress is the larger of the steps done and the time used."""
    p = max(step, cfg.steps * time_frac)
    return warmup_cosine(step, (p - cfg.warmup) / max(1, cfg.steps - cfg.warmup), cfg.lr, cfg.warmup,
                         cfg.min_lr_ratio)


# -- device and processes -----------------------------------------------------------------------
@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def runtime(arg: str | None = "auto") -> Runtime:
    """The device (and, under torchrun, the process group) of this process. arg: auto, cpu,
    cuda, cuda:N; torchrun gives each rank its LOCAL_RANK's GPU, or gloo on CPU."""
    arg = arg or "auto"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1:
        if arg == "cpu" or not torch.cuda.is_available():       # gloo: the multi-process path runs on a laptop
            torch.distributed.init_process_group("gloo")
            return Runtime(torch.device("cpu"), rank, world)
        torch.cuda.set_device(local)
        torch.distributed.init_process_group("nccl")
        return _cuda_defaults(Runtime(torch.device("cuda", local), rank, world))
    return _cuda_defaults(Runtime(pick_device(arg)))


def _cuda_defaults(rt: Runtime) -> Runtime:
    if rt.device.type == "cuda":            # TF32 matmuls: the fp32 parts of a step (losses, skinning) run faster
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return rt


def seed_everything(seed: int) -> None:
    """Before a trainer builds its model: the same seed, the same initial weights."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)


def _broadcast_state(model: torch.nn.Module) -> None:
    for t in model.state_dict().values():
        torch.distributed.broadcast(t, 0)


def _out_of_time(mine: bool, step: int, rt: Runtime, every: int = 10) -> bool:
    """Has the time budget run out? One process: its own clock, at no cost. Several: rank 0's
    clock decides for all, asked every `every` steps (a broadcast waits for the GPU, which
    stalls the step pipeline if done every step), so that every rank stops at the same step."""
    if rt.world == 1:
        return mine
    if step % every:
        return False
    flag = torch.tensor([int(mine)], dtype=torch.int32, device=rt.device)
    torch.distributed.broadcast(flag, 0)
    return bool(flag.item())


def _average_gradients(params: list, world: int) -> None:
    """Mean gradient over ranks, in one flat all-reduce (a parameter without a gradient this
    step counts as zero, so every rank sends the same sizes)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= world
    i = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[i:i + n].view_as(p).clone() if p.grad is None else p.grad.copy_(flat[i:i + n].view_as(p))
        i += n


# -- the task a trainer hands to the loop ---------------------------------------------------------
class Task(ABC):
    """What a model brings to the loop. Subclasses set `name`, `model`, `best_metric`,
    `best_mode` and implement batches / loss / validate / save (a subclass missing one cannot
    be made)."""
    name: str = "model"
    model: torch.nn.Module
    best_metric: str = "loss"
    best_mode: str = "min"          # "min" or "max"

    @abstractmethod
    def batches(self, seed: int) -> Iterator:
        """An endless stream of training batches for this rank, drawn from `seed`."""

    @abstractmethod
    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """(scalar loss to minimise, {name: scalar} parts to log); runs under the loop's autocast."""

    @abstractmethod
    def validate(self) -> dict:
        """{name: number} on the validation data (rank 0 only; the model is in eval mode)."""

    @abstractmethod
    def save(self, stem: Path, fp16: bool, meta: dict) -> None:
        """Write stem.safetensors + stem.json (fp16: the shippable form; else everything training needs)."""

    def final(self, best: Path) -> dict:
        """Metrics of the shipped checkpoint `best` (a stem) for final.json; default: none."""
        return {}

    def param_groups(self, weight_decay: float) -> list:
        decay = [p for p in self.model.parameters() if p.requires_grad and p.dim() >= 2]
        other = [p for p in self.model.parameters() if p.requires_grad and p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]

    def describe(self, metrics: dict) -> str:
        """One line of validation metrics for the progress bar."""
        return " ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float)))


# -- checkpoints ----------------------------------------------------------------------------------
def checkpoint_stem(path) -> Path:
    """OUT, OUT/last, OUT/last.safetensors or OUT/last.json -> OUT/last."""
    path = Path(path)
    if path.is_dir():
        return path / "last"
    return path.with_suffix("") if path.suffix in (".safetensors", ".json") else path


def read_state(path) -> dict:
    """The loop state saved beside a last checkpoint: {"step", "train", "best_value", "best_step", ...}."""
    stem = checkpoint_stem(path)
    state = stem.with_name(stem.name + ".state.json")
    if not state.is_file():
        raise InputError(f"--resume {path}", f"{state} does not exist",
                         "--resume takes OUT/last of a run of this trainer")
    return read_json(state, "run state")


def _save_optimizer(stem: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    from safetensors.torch import save_file

    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {}
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                tensors[f"{names[id(p)]}/{k}"] = v.detach().cpu().float().reshape(v.shape).contiguous()
    write_weights_and_config(stem.with_name(stem.name + ".optim.safetensors"),
                             stem.with_name(stem.name + ".state.json"), lambda f: save_file(tensors, f), state)


def _load_optimizer(stem: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    from safetensors.torch import load_file

    t = load_file(str(stem.with_name(stem.name + ".optim.safetensors")))
    for n, p in model.named_parameters():
        st = {k.split("/", 1)[1]: v.to(p.device) for k, v in t.items() if k.split("/", 1)[0] == n}
        if st:
            opt.state[p] = st


def _better(value, best, mode: str) -> bool:
    """Is this validation's value better than the best so far? Without the metric (no val
    data) the newest checkpoint is the best; NaN never is."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def write_json(path: Path, doc: dict) -> None:
    """Whole or not at all: a temporary file beside it, renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


# -- the loop -------------------------------------------------------------------------------------
RUN_LOGS = ("config.json", "log.jsonl", "val.jsonl")


def print_summary(final: dict, out) -> None:
    """The two lines a `tdmm train` command ends with (rank 0 only: other ranks get no final)."""
    if final:
        stopped = " (stopped by --max-minutes)" if final["stopped_by_time"] else ""
        if final.get("paused"):
            stopped = f" (paused by --pause-minutes: `--resume {out}/last` continues it)"
        print(f"trained {final['steps']} steps{stopped} in {final['wall_s']} s ({final['steps_per_s']} steps/s); "
              f"best {final['best_metric']} {final['best_value']} at step {final['best_step']}")
        print(f"wrote {out}/best.safetensors, best.json, last.*, log.jsonl, val.jsonl, final.json")


def check_out(out) -> Path:
    """Before a trainer loads anything: --out must be a folder we can make or write into."""
    return output_path(out, "--out", kind="dir")


def fit(task: Task, cfg: LoopConfig, out, rt: Runtime, run_info: dict | None = None, resume=None,
        t_start: float | None = None, progress: bool = True) -> dict:
    """Train task.model by cfg; returns final.json's content (on rank 0; {} on the others).
    run_info joins config.json (the model config, the data folder ...); t_start is when the
    run began (for max_minutes; default now).

    A run that fails (or is interrupted) before its first checkpoint leaves nothing behind:
    the logs it began go, and so does OUT if it made it. Once a checkpoint is written the
    folder stays, resumable with --resume OUT/last."""
    out = check_out(out)
    fresh = not out.exists()
    before = set(out.iterdir()) if out.exists() else set()
    try:
        return _fit(task, cfg, out, rt, run_info, resume, t_start, progress)
    except BaseException:
        if rt.main and out.exists():
            new = set(out.iterdir()) - before
            if all(p.name in RUN_LOGS for p in new):
                for p in new:
                    p.unlink(missing_ok=True)
                if fresh and not any(out.iterdir()):
                    out.rmdir()
            elif (out / "last.state.json").exists():
                print(f"the checkpoints written so far are in {out}: `--resume {out / 'last'}` continues the run",
                      file=sys.stderr)
        raise


def _fit(task: Task, cfg: LoopConfig, out: Path, rt: Runtime, run_info, resume, t_start, progress) -> dict:
    t_start = time.time() if t_start is None else t_start
    model, device = task.model, rt.device
    start, best, best_step = 0, None, None
    if resume is not None:
        state = read_state(resume)
        start, best, best_step = int(state["step"]), state.get("best_value"), state.get("best_step")
    if rt.main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", {**(run_info or {}), "train": asdict(cfg), "world_size": rt.world})
    if rt.world > 1:
        _broadcast_state(model)
    params = [p for p in model.parameters() if p.requires_grad]
    cuda = device.type == "cuda"
    opt = torch.optim.AdamW(task.param_groups(cfg.weight_decay), lr=cfg.lr, betas=cfg.betas,
                            **({"fused": True} if cuda else {}))
    if resume is not None:
        _load_optimizer(checkpoint_stem(resume), model, opt)
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda and cfg.amp else nullcontext
    stream = cfg.seed * 100003 + rt.rank * 7919 + start
    torch.manual_seed(stream)
    batches = task.batches(stream)
    end = min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps

    t_train = time.time()
    def seconds_left(minutes):             # of training, after loading and before the final reserve
        return max(1.0, 60 * minutes - (t_train - t_start) - FINAL_RESERVE_S) if minutes else None
    budget, pause = seconds_left(cfg.max_minutes), seconds_left(cfg.pause_minutes)
    bar = None
    if rt.main and progress:
        from tqdm import tqdm
        bar = tqdm(total=end, initial=start, desc=task.name, unit="step", dynamic_ncols=True)
    model.train()
    acc, acc_n, step, by_time, paused = {}, 0, start, False, False
    while step < end and not (by_time or paused):
        time_frac = 0.0 if budget is None else (time.time() - t_train) / budget
        lr = lr_at(step, cfg, time_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        with amp():
            loss, parts = task.loss(next(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if rt.world > 1:
            _average_gradients(params, rt.world)
        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        for k, v in {"loss": loss, "grad_norm": gnorm, **parts}.items():
            acc[k] = acc.get(k, 0.0) + (v.detach().float() if torch.is_tensor(v) else float(v))
        acc_n += 1
        step += 1
        if budget is not None:
            by_time = _out_of_time(time.time() - t_train >= budget, step, rt) and step < end
        if pause is not None and not by_time:
            paused = _out_of_time(time.time() - t_train >= pause, step, rt) and step < end
        done = step >= end or by_time or paused
        if bar is not None:
            bar.update(1)
        if rt.main and (step % cfg.log_every == 0 or done):
            row = {"step": step, "s": round(time.time() - t_train, 2), "lr": lr,
                   **{k: float(v) / acc_n for k, v in acc.items()}}
            _append(out / "log.jsonl", row)
            if bar is not None:
                bar.set_postfix(loss=f"{row['loss']:.4f}")
        if step % cfg.log_every == 0 or done:
            acc, acc_n = {}, 0
        if step % cfg.val_every == 0 or done:
            if rt.main:
                model.eval()
                metrics = task.validate()
                model.train()
                _append(out / "val.jsonl", {"step": step, "train_s": round(time.time() - t_train, 1), **metrics})
                if bar is not None:
                    bar.write(f"step {step}: {task.describe(metrics)}")
                value = metrics.get(task.best_metric)
                meta = {"step": step, "train": asdict(cfg), "metrics": metrics}
                if _better(value, best, task.best_mode) or not (out / "best.json").exists():
                    best, best_step = value, step
                    task.save(out / "best", True, meta)
                task.save(out / "last", False, meta)
                _save_optimizer(out / "last", model, opt, {"step": step, "train": asdict(cfg), "best_value": best,
                                                           "best_step": best_step, "best_metric": task.best_metric,
                                                           "world_size": rt.world})
            rt.barrier()
    if bar is not None:
        bar.close()
    if cuda:
        torch.cuda.synchronize()
    final = {}
    if rt.main:
        model.eval()
        capped = bool(cfg.stop_at) and end < cfg.steps and step >= end
        # A paused run is not over: its last validation row stands, the re-validation waits for the end.
        final = {**({} if paused else task.final(out / "best")), "steps": step, "steps_planned": cfg.steps,
                 "stopped_by_time": by_time, "stopped_at_step_cap": capped, "paused": paused,
                 "best_step": best_step, "best_metric": task.best_metric, "best_value": best,
                 "train_s": round(time.time() - t_train, 1), "wall_s": round(time.time() - t_start, 1),
                 "steps_per_s": round((step - start) / max(time.time() - t_train, 1e-9), 2), "world_size": rt.world}
        write_json(out / "final.json", final)
    rt.barrier()
    return final
