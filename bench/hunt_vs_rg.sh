#!/usr/bin/env bash
# Benchmark (not a test): exhunt hunt over a lab triage folder against ripgrep's literal search over the same logs,
# in one process tree, same input, warm page cache. Prints wall time, throughput and the ratio.
#
#   bash bench/hunt_vs_rg.sh [SIZE]        # SIZE of the logs, default 1GB
#
# ripgrep runs Test-ProxyLogon's four literal prefilters (`ServerInfo~`, `Server~`, `VirtualDirectory`,
# `Download failed and temporary file`): the floor of any log hunt. exhunt does all of its log rules, IOC matching,
# the file sweep, YARA and correlation.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-1GB}"
command -v rg >/dev/null || { apt-get install -y -qq ripgrep >/dev/null; }
cargo build -q --release -p exhunt
BIN="${CARGO_TARGET_DIR:-target}/release/exhunt"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$BIN" lab evidence "$WORK/ev" --seed 42 --size "$SIZE" --scenario used
BYTES=$(du -sb "$WORK/ev/C" | cut -f1)
find "$WORK/ev/C" -type f -exec cat {} + > /dev/null   # warm the page cache
t0=$(date +%s.%N)
rg -F -c -e 'ServerInfo~' -e 'Server~' -e 'VirtualDirectory' -e 'Download failed and temporary file' "$WORK/ev/C" > /dev/null || true
t1=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" hunt --no-progress --json "$WORK/ev" > "$WORK/out.jsonl" || true
t2=$(date +%s.%N)
python3 - "$BYTES" "$t0" "$t1" "$t2" "$(tail -1 "$WORK/rss")" "$(grep -c '"type":"finding"' "$WORK/out.jsonl")" <<'PY'
import sys
b, t0, t1, t2, rss, n = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5]), int(sys.argv[6])
rg, ex = t1 - t0, t2 - t1
print(f"input: {b/1e6:.0f} MB of evidence")
print(f"rg -F (4 literals):  {rg:6.2f} s  {b/rg/1e6:8.0f} MB/s")
print(f"exhunt hunt:         {ex:6.2f} s  {b/ex/1e6:8.0f} MB/s  peak RSS {rss/1024:.0f} MB  {n} findings")
print(f"ratio exhunt/rg: {ex/rg:.1f}x the time of a literal grep")
PY
