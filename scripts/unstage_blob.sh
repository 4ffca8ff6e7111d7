#!/usr/bin/env bash
# On the GPU machine, in the repo root, after every chunk of scripts/stage_blob.sh reached
# /root/stage: check the blob, write /root/stage/smollm2.gguf and out/evaluator_minilm16/, and
# install the gguf wheel into /tmp/site (add it to PYTHONPATH; accelerate is on the machine).
set -euo pipefail
S=${STAGE:-/root/stage}
cat $S/blob.part0? > $S/blob
[ "$(sha256sum $S/blob | cut -c1-64)" = "$(cat $S/blob.sha256)" ] || { echo "blob sha256 mismatch: resend the chunks"; exit 1; }
read -r gguf_bytes tar_bytes < $S/blob.sizes
head -c "$gguf_bytes" $S/blob > $S/smollm2.gguf
[ "$tar_bytes" = 0 ] || { mkdir -p out && tail -c "$tar_bytes" $S/blob | tar -x -C out; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $S/gguf-*.whl
echo "staged: $S/smollm2.gguf ($gguf_bytes bytes)$([ "$tar_bytes" = 0 ] || echo ", out/evaluator_minilm16"), gguf in /tmp/site"
