"""Everyday prompts and one-word pairs through a generator, checked geometrically
(training/eval/prompt_checks.py): the share of prompts whose motion shows what they ask for.

    python scripts/l2m_prompt_suite.py --generator assets/l2m/generator [--seeds 0,1,2] [--json OUT]

Each seed is one take of every prompt; the shares are over all takes."""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

from engine.engine import Engine
from training.eval.prompt_checks import run_pairs, run_suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default=None, help="generator checkpoint (default: the shipped one)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--guidance", type=float, default=None)
    ap.add_argument("--json", default=None, help="write the full results here")
    args = ap.parse_args()
    eng = Engine(generator_path=args.generator)
    kw = {} if args.guidance is None else {"guidance": args.guidance}

    def gen(texts, seconds, seed=0):
        return eng.generate(list(texts), seconds=seconds, seed=seed, **kw)

    t0 = time.time()
    seeds = [int(s) for s in args.seeds.split(",")]
    suites = [run_suite(gen, seed=s) for s in seeds]
    pairs = [run_pairs(gen, seed=s) for s in seeds]
    kinds = defaultdict(lambda: [0, 0])
    for r in suites:
        for k, v in r["per_kind"].items():
            kinds[k][0] += v["passed"]
            kinds[k][1] += v["n"]
    n, passed = sum(r["n"] for r in suites), sum(r["passed"] for r in suites)
    pn, pp = sum(r["n"] for r in pairs), sum(r["passed"] for r in pairs)
    print(f"prompts: {passed}/{n} takes pass every check ({100 * passed / n:.1f}%), seeds {seeds}")
    for k, (p, m) in sorted(kinds.items()):
        print(f"  {k:14s} {p:4d}/{m:<4d} {100 * p / m:5.1f}%")
    print(f"one-word pairs: {pp}/{pn} change the right channel or joint the right way ({100 * pp / pn:.1f}%)")
    per_pair = defaultdict(int)
    for r in pairs:
        for x in r["results"]:
            per_pair[f"{x['a']} -> {x['b']}"] += int(x["ok"])
    for k, v in per_pair.items():
        print(f"  {v}/{len(seeds)}  {k}")
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"generator": args.generator, "seeds": seeds, "prompts": {"n": n, "passed": passed},
                       "per_kind": kinds, "pairs": {"n": pn, "passed": pp, "per_pair": per_pair},
                       "failures": [x for r in suites for x in r["failures"]]}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
