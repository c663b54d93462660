#!/usr/bin/env bash
# Benchmark (not a test): exhunt hunt over ≥ 1 GB of EVTX with every built-in rule and the corpus's Sigma rules,
# against the parse-only limit `evtx_dump -o jsonl` (from `cargo install --locked evtx`) on the same files, in one
# process tree, warm page cache, two processes for evtx_dump as exhunt uses two threads. Prints records/s, the ratio
# and exhunt's peak RSS against the 512 MB limit of issue 4.
#
#   bash bench/events_vs_evtx_dump.sh [COPIES]     # COPIES of the corpus's readable EVTX files, default 240 (≈ 1 GB)
#
# The input is the corpus's EVTX files (../shared/corpus/evtx, the damaged Sysmon log left out) copied COPIES times
# into a temporary folder outside the repository, as ../shared/reference/peer-figures.md measured Hayabusa and
# Chainsaw (60 copies there).
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES="${1:-240}"
SHARED="${EXHUNT_SHARED:-../shared}"
command -v evtx_dump >/dev/null || cargo install --locked evtx
cargo build -q --release -p exhunt
BIN="${CARGO_TARGET_DIR:-target}/release/exhunt"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mapfile -t SRC < <(find "$SHARED/corpus/evtx" -name '*.evtx' ! -name '*partial_corrupt*' | sort)
mkdir -p "$WORK/ev"
for i in $(seq 1 "$COPIES"); do
  for f in "${SRC[@]}"; do cp "$f" "$WORK/ev/$i-$(basename "$f")"; done
done
BYTES=$(du -sb "$WORK/ev" | cut -f1)
cat "$WORK"/ev/* > /dev/null   # warm the page cache

# Parse-only limit: every file through evtx_dump, two processes at a time.
t0=$(date +%s.%N)
find "$WORK/ev" -name '*.evtx' -print0 | xargs -0 -n 64 -P 2 sh -c 'for f; do evtx_dump -o jsonl "$f"; done' _ \
  | wc -l > "$WORK/dump_records"
t1=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" hunt --no-progress --json --drive C --since 2010-01-01 \
  --sigma "$SHARED/corpus/rules/sigma" "$WORK/ev" > "$WORK/out.jsonl" 2> "$WORK/err" || true
t2=$(date +%s.%N)
python3 - "$BYTES" "$t0" "$t1" "$t2" "$(tail -1 "$WORK/rss")" "$(cat "$WORK/dump_records")" "$WORK/out.jsonl" <<'PY'
import json, sys
b, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:5])
rss, dumped, out = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
records, findings = 0, 0
for line in open(out):
    r = json.loads(line)
    if r["type"] == "finding":
        findings += 1
    elif r["type"] == "host-report":
        records = next(c["records"] for c in r["data"]["coverage"] if c["source"] == "event-logs")
dump, ex = t1 - t0, t2 - t1
print(f"input: {b/1e6:.0f} MB of EVTX, {dumped} records (evtx_dump) / {records} records (exhunt)")
print(f"evtx_dump -o jsonl, 2 processes (parse only): {dump:7.2f} s  {dumped/dump:9.0f} records/s")
print(f"exhunt hunt, built-in rules + 47 Sigma rules: {ex:7.2f} s  {records/ex:9.0f} records/s  {findings} findings")
print(f"ratio exhunt/evtx_dump: {ex/dump:.2f}x the time of parse-only (goal: within 2x)")
print(f"exhunt peak RSS: {rss/1024:.0f} MB (limit 512 MB)")
PY
