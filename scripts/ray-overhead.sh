#!/bin/bash
# Overhead of a Ray run against --jobs 2 on the same 200 validation TUs of a recorded
# corpus (10 compiles each): starts a local two-CPU Ray head, runs both, compares records.
set -e
export RAY_USAGE_STATS_ENABLED=0
T=$(mktemp -d /tmp/rayb-XXXX)
ray start --head --node-ip-address=127.0.0.1 --port=6390 --num-cpus=2 --include-dashboard=false --disable-usage-stats --temp-dir=$T >/dev/null 2>&1
rm -rf /tmp/rl /tmp/rr
A="--corpus /work/corpus-work/out --split validation --limit 200 --budget 10 --max-ir-bytes 262144"
s=$(date +%s.%N); llmcc tune search $A --out /tmp/rl --jobs 2 2>/dev/null; e=$(date +%s.%N); echo "jobs2 $(echo "$e - $s" | bc)"
s=$(date +%s.%N); llmcc tune search $A --out /tmp/rr --ray 127.0.0.1:6390 2>/dev/null; e=$(date +%s.%N); echo "ray $(echo "$e - $s" | bc)"
ray stop --force >/dev/null 2>&1
python3 - <<'PY'
import json
def load(p):
    out={}
    for l in open(p):
        r=json.loads(l); r.pop("seconds",None); out[(r["ir_hash"], r.get("rung",0))]=r
    return out
a,b=load("/tmp/rl/search.jsonl"),load("/tmp/rr/search.jsonl")
print("TUs", len(a), len(b), "identical", a==b)
PY
