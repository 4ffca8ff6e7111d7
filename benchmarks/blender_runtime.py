"""The engine inside Blender: how long the add-on's steps take (issue 14's speed targets).

    .venv/bin/python benchmarks/blender_runtime.py [--repeat 5] [--batch 8]

Runs under the bpy wheel with the add-on from this checkout, the worker on this venv's Python.
Prints the median of each (and the runs):
- register: tdmm_blender.register() (imports the operator and panel modules; starts nothing);
- first request: bpy.ops.tdmm.generate of a 4 s prompt on a fresh worker (the process start,
  torch import and model loading included), keys written;
- generate-to-keys: the same request once the worker is warm;
- longest main-thread step: during a batch of `--batch` 4 s requests, the longest single tick of
  the loop a modal operator runs (poll the replies + key the finished clips), and the time to
  submit the batch.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy  # noqa: E402

PROMPT = "a shy smile that turns into a laugh, head tilting left"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--first", type=int, default=3, help="cold starts to time (each restarts the worker)")
    args = ap.parse_args()

    import tdmm_blender
    from tdmm_blender import engine_client, keys

    bpy.ops.wm.read_factory_settings(use_empty=True)
    reg = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        tdmm_blender.register()
        reg.append(time.perf_counter() - t)
        tdmm_blender.unregister()
    tdmm_blender.register()
    assert "torch" not in sys.modules
    bpy.ops.tdmm.add_head()
    arm = bpy.context.view_layer.objects.active

    def generate(seed):
        t = time.perf_counter()
        assert bpy.ops.tdmm.generate(prompt=PROMPT, seconds=4.0, seed=seed) == {"FINISHED"}
        return time.perf_counter() - t

    first = []
    for i in range(args.first):
        engine_client.stop_client()
        first.append(generate(i))
    warm = [generate(100 + i) for i in range(args.repeat)]

    # A batch, driven the way the modal operator drives it: one short tick at a time.
    client = engine_client.get_client()
    t = time.perf_counter()
    reqs = [client.submit("generate", {"prompts": [PROMPT], "seconds": 4.0, "seed": 200 + i})
            for i in range(args.batch)]
    submit = time.perf_counter() - t
    ticks, done, t_batch = [], set(), time.perf_counter()
    while len(done) < len(reqs):
        t = time.perf_counter()
        for req in client.poll():
            assert req.error is None, req.error
            keys.write_clip(arm, req.clips[0], name=f"batch {req.id}")
            done.add(req.id)
        ticks.append(time.perf_counter() - t)
        time.sleep(0.05)                              # the operator's timer interval
    batch_s = time.perf_counter() - t_batch
    tdmm_blender.unregister()

    med = statistics.median
    result = {"register_s": med(reg), "first_request_s": med(first), "generate_to_keys_s": med(warm),
              "longest_main_thread_step_s": max(ticks), "batch_submit_s": submit,
              "batch": {"requests": args.batch, "seconds": batch_s, "ticks": len(ticks)},
              "runs": {"register": reg, "first": first, "warm": warm}}
    for k in ("register_s", "first_request_s", "generate_to_keys_s", "longest_main_thread_step_s", "batch_submit_s"):
        print(f"{k:28s} {result[k] * 1000:9.1f} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
