#!/bin/sh
# Rebuild the tuning state from a recorded corpus: autotune a sample of the
# training split, broadcast the most frequent winners to other training TUs,
# choose the coreset, label validation TUs with it and print the report.
# Every step streams to OUT and skips what is done: rerun to resume.
#
#   scripts/tune-corpus.sh CORPUS_DIR OUT_DIR
#
# Scale (environment): SEARCH_TUS training TUs autotuned with BUDGET compiles
# each; TOP winners labelled on LABEL_TUS other training TUs; a coreset of at
# most K pipelines; VAL_TUS validation TUs labelled with it and VAL_SEARCH_TUS
# validation TUs autotuned (the report's autotuner figure; winners found there
# are never broadcast). Then every TU up to MODEL_IR_BYTES of IR is labelled
# with the coreset, the model ranker is trained on the training split
# (OUT/model) and evaluated on the validation split.
set -eu
CORPUS=${1:?usage: tune-corpus.sh CORPUS_DIR OUT_DIR}
OUT=${2:?usage: tune-corpus.sh CORPUS_DIR OUT_DIR}
SEARCH_TUS=${SEARCH_TUS:-3000}
BUDGET=${BUDGET:-40}
TOP=${TOP:-96}
LABEL_TUS=${LABEL_TUS:-350}
K=${K:-64}
VAL_TUS=${VAL_TUS:-300}
VAL_SEARCH_TUS=${VAL_SEARCH_TUS:-300}
MODEL_IR_BYTES=${MODEL_IR_BYTES:-262144}
JOBS=${JOBS:-$(nproc)}

# The search explores around the coreset shipped when tuning started, and that
# coreset competes with the new winners: keep it with the state.
mkdir -p "$OUT"
[ -f "$OUT/seeds.json" ] || cp "$(dirname "$0")/../llmcc/data/coreset.json" "$OUT/seeds.json"

llmcc tune search --corpus "$CORPUS" --out "$OUT" --split train --limit "$SEARCH_TUS" \
    --budget "$BUDGET" --seeds "$OUT/seeds.json" --max-ir-bytes 262144 --jobs "$JOBS"
llmcc tune broadcast --corpus "$CORPUS" --out "$OUT" --split train --top "$TOP" \
    --limit "$LABEL_TUS" --exclude-searched --max-ir-bytes 1048576 --jobs "$JOBS"
# A pipeline that fails on a validation TU is rejected (PassListEval): choose
# again without it and label the newcomers, until the coreset is stable.
for round in 1 2 3; do
    llmcc tune coreset --out "$OUT" --k "$K" --write "$OUT/coreset.json" \
        --pool "$OUT/broadcast.json" --pool "$OUT/seeds.json"
    llmcc tune broadcast --corpus "$CORPUS" --out "$OUT" --split validation \
        --pipelines "$OUT/coreset.json" --limit "$VAL_TUS" --max-ir-bytes 1048576 --jobs "$JOBS"
done
llmcc tune search --corpus "$CORPUS" --out "$OUT" --split validation --limit "$VAL_SEARCH_TUS" \
    --budget "$BUDGET" --seeds "$OUT/seeds.json" --max-ir-bytes 262144 --jobs "$JOBS"
llmcc tune report --out "$OUT" --coreset "$OUT/coreset.json"
for split in train validation; do
    llmcc tune broadcast --corpus "$CORPUS" --out "$OUT" --split "$split" \
        --pipelines "$OUT/coreset.json" --max-ir-bytes "$MODEL_IR_BYTES" --jobs "$JOBS"
done
llmcc train fit --corpus "$CORPUS" --labels "$OUT" --coreset "$OUT/coreset.json" --out "$OUT/model"
llmcc train eval --corpus "$CORPUS" --labels "$OUT" --model "$OUT/model"
