"""The plots of `tdmm eval` (training/eval/report.py): t-SNE of motion embeddings by family,
family confusion matrices, per-family accuracy bars, and training curves read from the
logs beside the checkpoints. matplotlib (Agg) is imported only when a plot is drawn."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _colors(n: int):
    plt = _plt()
    base = list(plt.get_cmap("tab20")(np.arange(20) / 20)) + list(plt.get_cmap("Dark2")(np.arange(8) / 8))
    return [base[i % len(base)] for i in range(n)]


def plot_tsne(emb: np.ndarray, families: list, path: Path, title: str, seed: int, quiet: bool = True) -> None:
    from training.eval.tsne import tsne
    plt = _plt()
    y = tsne(emb, 30.0, seed=seed, progress=not quiet)
    fams = sorted(set(families))
    fig, ax = plt.subplots(figsize=(11, 8))
    for f, c in zip(fams, _colors(len(fams))):
        m = np.array([x == f for x in families])
        ax.scatter(y[m, 0], y[m, 1], s=6, color=c, label=f)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, markerscale=2, ncol=2 if len(fams) > 16 else 1)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(panels: list, families: list, path: Path) -> None:
    """panels: [(title, true families, predicted families)]; rows normalised to 1."""
    plt = _plt()
    idx = {f: i for i, f in enumerate(families)}
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 6.4 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, true, pred) in zip(axes.flat, panels):
        m = np.zeros((len(families), len(families)))
        for t, p in zip(true, pred):
            if t in idx and p in idx:
                m[idx[t], idx[p]] += 1
        m /= np.maximum(m.sum(1, keepdims=True), 1)
        ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(families)), families, rotation=90, fontsize=6)
        ax.set_yticks(range(len(families)), families, fontsize=6)
        ax.set_xlabel("classifier"), ax.set_ylabel("label")
        ax.set_title(f"{title}: {100 * np.mean([t == p for t, p in zip(true, pred)]):.1f}% correct", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_family_bars(panels: list, families: list, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(families) + 1.5))
    h = 0.8 / len(panels)
    for k, (title, true, pred) in enumerate(panels):
        c = plt.get_cmap("tab10")(k % 10)
        acc = [100 * np.mean([p == f for t, p in zip(true, pred) if t == f]) if f in true else np.nan for f in families]
        ax.barh(np.arange(len(families)) + k * h, acc, height=h, color=c, label=title)
    ax.set_yticks(np.arange(len(families)) + 0.4 - h / 2, families, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("family accuracy of the evaluator's classifier (%)")
    ax.set_xlim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_logs(checkpoint) -> tuple[list, list]:
    """(training rows, validation rows) of the run a checkpoint sits in: the training loop's
    log.jsonl / val.jsonl beside it (a checkpoint folder, or a stem such as runs/vq/best), or
    an evaluator's train_log.json ({"curve": [...], "val": [...]}) from before the shared loop."""
    path = Path(checkpoint)
    folder = path if path.is_dir() else path.parent
    rows = lambda f: [json.loads(x) for x in (folder / f).read_text().splitlines() if x.strip()] \
        if (folder / f).is_file() else []
    if rows("log.jsonl") or rows("val.jsonl"):
        return rows("log.jsonl"), rows("val.jsonl")
    if (folder / "train_log.json").is_file():
        d = json.loads((folder / "train_log.json").read_text())
        return d.get("curve", []), d.get("val", [])
    return [], []


def read_curves(evaluator_path, tokenizer_paths) -> list:
    """[(title, train rows, val rows, train keys, val keys)] from the logs of the runs the
    checkpoints come from (run_logs), evaluator first."""
    found = []
    train, val = run_logs(evaluator_path)
    if train or val:
        found.append((f"evaluator ({evaluator_path})", train, val, ("loss", "nce", "cls"),
                      ("t2m_R@1", "m2t_R@1", "acc_family")))
    for name, path in tokenizer_paths:
        train, val = run_logs(path)
        if train or val:
            found.append((f"tokenizer {name} ({Path(path).parent})", train, val, ("loss", "vertex", "param"),
                          ("vertex_mean_mm", "vertex_p95_mm")))
    return found


def plot_curves(curves: list, path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(len(curves), 2, figsize=(11, 3.2 * len(curves)), squeeze=False)
    for (title, train, val, tkeys, vkeys), (a0, a1) in zip(curves, axes):
        for ax, rows, keys, what in ((a0, train, tkeys, "training"), (a1, val, vkeys, "validation")):
            for k in keys:
                pts = [(r["step"], r[k]) for r in rows if k in r and "step" in r]
                if pts:
                    ax.plot(*zip(*pts), label=k, marker="." if what == "validation" else None)
            ax.set_title(f"{title}: {what}", fontsize=9)
            ax.set_xlabel("step")
            if ax.lines:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
