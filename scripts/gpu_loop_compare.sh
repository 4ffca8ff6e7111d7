#!/usr/bin/env bash
# Before/after of a change to the training code on the GPU (docs/TRAINING.md, session 3): the
# shipped tokenizer's config for a fixed number of steps, old code then new code, on the
# seed-0 60K corpus, in one call. Put the old tree in the ignored .stage/before first, e.g.
#   git worktree add /tmp/old bf42847 && mkdir -p .stage/before &&
#   cp -r /tmp/old/{engine,training,configs,scripts,pyproject.toml} .stage/before/
# then run `bash scripts/gpu_loop_compare.sh` on the device with carry [".stage"]; logs and
# final.json of both runs come back in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
DATA=/root/data/corpus60k
[ -f $DATA/labels.jsonl ] || PYTHONPATH=$PWD python3 -m engine.cli synth --clips 60000 --seed 0 --out $DATA --workers 14 2>&1 | tail -1
ln -sfn $PWD/assets .stage/before/assets
STEPS=${STEPS:-1500}
cat > /root/cmp.json <<J
{"model": {"codebook_size": 512, "code_dim": 512, "levels": 4, "quantize_dropout": 0.2, "downsample": 4, "width": 256, "depth": 2},
 "train": {"steps": $STEPS, "batch_size": 256, "crop": 64, "lr": 1e-3, "warmup": 200, "w_param": 0.5,
           "gaze_weight": 50, "compile": true, "val_every": $STEPS, "val_clips": 1000, "log_every": 50}}
J
run() {  # name pythonpath
  ( cd $2 && python3 -c "import sys, torch; torch.manual_seed(0); from engine.cli import main; sys.exit(main(sys.argv[1:]))" \
      train vq --data $DATA --out /root/cmp_$1 --config /root/cmp.json --device cuda ) > /root/cmp_$1.log 2>&1
  tail -2 /root/cmp_$1.log
}
time run before $PWD/.stage/before
time run after $PWD
for n in before after; do cp /root/cmp_$n/log.jsonl $OUT/cmp_${n}_log.jsonl; cp /root/cmp_$n/final.json $OUT/cmp_${n}_final.json; done
