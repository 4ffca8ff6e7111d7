#!/usr/bin/env bash
# Trainings on the lent GPU machine (see docs/TRAINING.md), run from the repo root there.
#   scripts/gpu_train.sh NAME:CONFIG[:FLAGS] ...
#   e.g. scripts/gpu_train.sh vq_rvq:configs/vq_rvq.json
#        scripts/gpu_train.sh vq:configs/vq.json vq_param:configs/vq_param_only.json:--no-vertex-loss
# The seed-0 60K corpus is synthesised there first (deterministic, ~9 s on 16 cores), then the
# runs train side by side, each under its config's wall-clock cap (max_minutes); KILL_S
# (default 570 s) is only the safety net. configs/evaluator*.json train the evaluator,
# configs/l2m*.json the Language2Motion generator (ours or the T2M-GPT baseline), configs/m2l*.json
# the Motion2Language captioner (its base: FLAGS --base,/root/stage/smollm2.gguf, with the gguf wheel
# installed there; scripts/stage_blob.sh and unstage_blob.sh bring both over), the rest train tokenizers. With $OUT set, each run comes back as $OUT/NAME.tar.gz (best
# checkpoint, logs; not the fp32 resume files) plus its log tail in $OUT/NAME.log.
set -uo pipefail
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH=$PWD:${PYTHONPATH:-} TQDM_MININTERVAL=20
# MiniLM travels as an fp16 copy (engine.text_encoder.export_half), needed by the evaluator and l2m.
export TDMM_MINILM_PATH=$PWD/out/evaluator_minilm16
DATA=${DATA:-/root/data/corpus60k}
TDMM="python3 -m engine.cli"
KILL_S=${KILL_S:-570}
t0=$(date +%s)
[ -f $DATA/labels.jsonl ] || $TDMM synth --clips 60000 --seed 0 --out $DATA --workers 14 2>&1 | tail -2
echo "data ready after $(( $(date +%s) - t0 )) s"
RUNS=${RUNS:-/root/runs}
mkdir -p $RUNS
names=()
for spec in "$@"; do
    IFS=: read -r name config flags <<< "$spec"
    cmd="train vq"
    case $(basename "$config") in
        evaluator*) cmd="train evaluator"; flags="${flags:+$flags,}--quiet";;
        l2m*) cmd="train l2m"; flags="${flags:+$flags,}--quiet";;
        m2l*) cmd="train m2l"; flags="${flags:+$flags,}--quiet";;
    esac
    timeout $((KILL_S - ($(date +%s) - t0))) $TDMM $cmd --data $DATA --out $RUNS/$name --config $config \
        --device ${DEVICE:-cuda} ${flags//,/ } > $RUNS/$name.log 2>&1 &
    names+=("$name")
done
wait
echo "trained in $(( $(date +%s) - t0 )) s"
for name in "${names[@]}"; do
    tr '\r' '\n' < $RUNS/$name.log | grep -v "step/s\|clip/s" > $RUNS/$name.short.log
    echo "== $name"; tail -4 $RUNS/$name.short.log
    if [ -n "${OUT:-}" ]; then
        tar -czf $OUT/$name.tar.gz -C $RUNS --exclude 'last*' $name
        tail -60 $RUNS/$name.short.log > $OUT/$name.log
    fi
done
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader 2>/dev/null
