"""Pick the tokenizer run that keeps one-sided faces best among those that meet the shipped
tokenizer's reconstruction gate: the largest asym_kept (training/eval/tokenizer_eval.py) with
val vertex p95 under P95_MAX mm. Prints the run's name; used between the GPU calls that train
tokenizer candidates and then Language2Motion on the winner (docs/TRAINING.md).

    python3 scripts/pick_tokenizer.py RUNS NAME [NAME ...]
"""
import json
import sys
from pathlib import Path

P95_MAX = 1.35          # tests/test_shipped_models.py's tokenizer gate


def main(runs: str, names: list[str]) -> str:
    rows = []
    for name in names:
        f = Path(runs) / name / "final.json"
        if not f.exists():
            print(f"{name}: no final.json", file=sys.stderr)
            continue
        m = json.loads(f.read_text())
        print(f"{name}: p95 {m['vertex_p95_mm']:.3f} mm, mean {m['vertex_mean_mm']:.3f}, "
              f"asym_kept {m.get('asym_kept', float('nan')):.3f}", file=sys.stderr)
        if m["vertex_p95_mm"] < P95_MAX:
            rows.append((m.get("asym_kept", 0.0), name))
    if not rows:
        raise SystemExit("no tokenizer run meets the p95 gate")
    return max(rows)[1]


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2:]))
