#!/usr/bin/env bash
# One GPU session's training (see docs/TRAINING.md): run from the repo root on the
# lent machine. Data is synthesised there (the corpus is deterministic from its seed),
# then the three tokenizers and the evaluator train side by side on the one GPU,
# each under its own wall-clock cap so the whole call ends inside its 10 minutes.
#   scripts/gpu_train.sh [CAP_MINUTES]   (the configs hold each run's own max_minutes; this is the kill-safety)
set -uo pipefail
MIN=${1:-5.5}; MIN=${MIN%.*}; MIN=$((MIN+1))
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH=$PWD:${PYTHONPATH:-}
# MiniLM travels as an fp16 copy (engine.text_encoder.export_half; sentence cosine 1.0000 to the fp32 weights).
export TDMM_MINILM_PATH=$PWD/out/evaluator_minilm16
DATA=/root/data/corpus60k
TDMM="python3 -m engine.cli"
[ -f $DATA/labels.jsonl ] || $TDMM synth --clips 60000 --seed 0 --out $DATA --workers 14 2>&1 | tail -2
mkdir -p /root/runs
start=$(date +%s)
timeout $((MIN*60+100)) $TDMM train vq --data $DATA --out /root/runs/vq --config configs/vq.json --device cuda > /root/runs/vq.log 2>&1 &
timeout $((MIN*60+100)) $TDMM train vq --data $DATA --out /root/runs/vq_rvq --config configs/vq_rvq.json --device cuda > /root/runs/vq_rvq.log 2>&1 &
timeout $((MIN*60+100)) $TDMM train vq --data $DATA --out /root/runs/vq_param --config configs/vq_param_only.json --no-vertex-loss --device cuda > /root/runs/vq_param.log 2>&1 &
timeout $((MIN*60+100)) $TDMM train evaluator --data $DATA --out /root/runs/evaluator --config configs/evaluator.json --device cuda --quiet > /root/runs/evaluator.log 2>&1 &
wait
echo "trained in $(( $(date +%s) - start )) s"
for r in vq vq_rvq vq_param evaluator; do echo "== $r"; tail -5 /root/runs/$r.log; done
