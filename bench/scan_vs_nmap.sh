#!/usr/bin/env bash
# Benchmark (not a test): `exhunt scan` against nmap over the same loopback lab, on this machine's cores shared by
# the lab and the scanner. Prints full fingerprints per second of each, the ratio, and exhunt's peak RSS.
#
#   bash bench/scan_vs_nmap.sh [HOSTS]     # HOSTS a power of two, default 4096 (127.77.0.0/20)
#
# Environment: PORT (default 8443: nmap runs its http-* and ssl-cert scripts only on ports its portrules know as
# HTTP/TLS, 443 and 8443 among them, unless -sV is added), CONCURRENCY (exhunt's targets in flight, default 10000), NMAP_HOSTS (how many
# of the lab's hosts nmap scans, default min(HOSTS, 1024): nmap is slow, its rate is measured on that many hosts of
# the same lab; NMAP_HOSTS=HOSTS runs it over all of them), BIND (auto, per-address, loopback).
#
# 65,536 hosts (the issue's goal, and the only size that puts 10,000 connections in flight at once):
#
#   bash bench/scan_vs_nmap.sh 65536
#
# Above 4,096 hosts the lab listens with one socket tied to the loopback interface (`exhunt lab serve --bind
# loopback`, SO_BINDTODEVICE: needs root or CAP_NET_RAW), because one listener per address would take more than the
# 20,000 descriptors a process may open here; closed hosts then answer with a reset instead of a refusal. That one
# socket's accept queue is capped by net.core.somaxconn (4,096 here) and net.ipv4.tcp_max_syn_backlog (2,048): at
# 10,000 in flight, connects beyond them wait in the kernel (raise both sysctls to take them out of the figure).
# The lab and the scanner share the cores: run it on an otherwise idle machine (figures in docs/scanning.md).
#
# What is counted: a "full fingerprint" is one target taken to its end (the safe ladder of docs/scanning.md for
# exhunt: TLS + certificate, up to six GETs, NTLM; nmap: `-sT` connect, then http-title, http-headers, ssl-cert and
# http-ntlm-info on /rpc/). Hostile hosts (slowloris and co.) are in both runs and cost each its deadlines.
# Then, with the lab stopped, the TCP+TLS floor on the same cores (examples/handshake_floor.rs) and the ratio of
# exhunt's steady state to it.
# Only loopback is contacted: the lab's addresses, which this script starts itself.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS="${1:-4096}"
PORT="${PORT:-8443}"
CONCURRENCY="${CONCURRENCY:-10000}"
NMAP_HOSTS="${NMAP_HOSTS:-$((HOSTS < 1024 ? HOSTS : 1024))}"
BIND="${BIND:-auto}"
BITS=$(python3 -c "import math,sys; n=int(sys.argv[1]); b=int(math.log2(n)); assert 1<<b==n and b<=16, 'HOSTS: a power of two up to 65536'; print(b)" "$HOSTS")
RANGE="127.77.0.0/$((32 - BITS))"

command -v nmap >/dev/null || { apt-get install -y -qq --no-install-recommends nmap >/dev/null; }
cargo build -q --release -p exhunt
cargo build -q --release -p exhunt-scan --example handshake_floor
BIN="${CARGO_TARGET_DIR:-target}/release/exhunt"
WORK="$(mktemp -d)"
LAB=""
cleanup() {
  if [ -n "$LAB" ]; then kill "$LAB" 2>/dev/null || true; wait "$LAB" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
# One listening socket takes every connection of a large lab: lift the accept-queue caps for the run when allowed
# (root), and put them back after.
if [ "$(id -u)" = 0 ] && [ "$HOSTS" -gt 4096 ]; then
  OLD_SYSCTL="$(sysctl -n net.core.somaxconn) $(sysctl -n net.ipv4.tcp_max_syn_backlog)"
  sysctl -q -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 || true
  trap 'read -r a b <<< "$OLD_SYSCTL"; sysctl -q -w net.core.somaxconn="$a" net.ipv4.tcp_max_syn_backlog="$b" || true; cleanup' EXIT
fi

"$BIN" lab serve --hosts "$RANGE" --port "$PORT" --seed 1 --bind "$BIND" --truth "$WORK/truth.jsonl" \
  2> "$WORK/lab.err" &
LAB=$!
for _ in $(seq 1 600); do grep -q ' on port ' "$WORK/lab.err" && break; sleep 0.1; done
grep ' on port ' "$WORK/lab.err" >&2 || { cat "$WORK/lab.err" >&2; exit 1; }

# exhunt: every host of the lab, no rate limit (it is our own loopback), the default deadlines.
t0=$(date +%s.%N)
/usr/bin/time -v -o "$WORK/time" "$BIN" scan "$RANGE" -p "$PORT" --allow-reserved --rate 0 --per-host-rate 0 \
  --concurrency "$CONCURRENCY" --no-progress --out "$WORK/obs.jsonl" 2> "$WORK/scan.err" || true
t1=$(date +%s.%N)
tail -1 "$WORK/scan.err" >&2
# Against the lab's truth: the one comparison of the tests and the demo (status, class, build and its source, every
# chain, X-FEServer, NTLM names, the certificate's name), computed from the same seed, range, port and bind.
"$BIN" lab compare --hosts "$RANGE" --port "$PORT" --seed 1 --bind "$BIND" "$WORK/obs.jsonl" > "$WORK/compare" || true

# nmap: the first NMAP_HOSTS hosts of the same lab, the four scripts, connect scan, no ping, no DNS.
python3 - "$RANGE" "$NMAP_HOSTS" > "$WORK/nmap-hosts" <<'PY'
import ipaddress, sys
net = ipaddress.ip_network(sys.argv[1])
for i, a in enumerate(net):
    if i >= int(sys.argv[2]):
        break
    print(a)
PY
t2=$(date +%s.%N)
nmap -n -Pn -sT -T4 --min-hostgroup 1024 -p "$PORT" --host-timeout 120s --script-timeout 60s \
  --script http-title,http-headers,ssl-cert,http-ntlm-info --script-args http-ntlm-info.root=/rpc/ \
  -iL "$WORK/nmap-hosts" -oX "$WORK/nmap.xml" > /dev/null 2> "$WORK/nmap.err" || true
t3=$(date +%s.%N)

# The floor on the same cores, with the lab stopped: TCP connect + TLS 1.3 + two pipelined rounds + close, client
# and server in one process (crates/exhunt-scan/examples/handshake_floor.rs).
kill "$LAB" 2>/dev/null || true; wait "$LAB" 2>/dev/null || true; LAB=""
"${CARGO_TARGET_DIR:-target}/release/examples/handshake_floor" 20000 1000 | tee "$WORK/floor" >&2

python3 - "$WORK" "$t0" "$t1" "$t2" "$t3" "$HOSTS" "$NMAP_HOSTS" "$CONCURRENCY" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
work, t0, t1, t2, t3 = sys.argv[1], *map(float, sys.argv[2:6])
hosts, nmap_hosts, conc = map(int, sys.argv[6:9])
from datetime import datetime
statuses, exchange, ends = {}, 0, []
for line in open(f"{work}/obs.jsonl"):
    r = json.loads(line)
    if r["type"] != "observation":  # each observation is followed by its findings
        continue
    o = r["data"]
    statuses[o["status"]] = statuses.get(o["status"], 0) + 1
    fp = o.get("fingerprint") or {}
    exchange += fp.get("class") == "exchange"
    start = datetime.fromisoformat(o["started"].replace("Z", "+00:00")).timestamp()
    ends.append(start + o["elapsed_ms"] / 1000)
ends.sort()
# Steady state: targets finished per second between the 10th and the 90th percentile of finishing times (the ramp-up
# and the tail of hostile hosts that run to their deadlines left out).
lo, hi = ends[len(ends) // 10], ends[len(ends) * 9 // 10]
# Only meaningful when there are more hosts than targets in flight: with every target started at once, the window
# measures a burst of finishing times, not a sustained rate.
steady = (len(ends) * 8 // 10) / (hi - lo) if hi > lo and hosts > conc else None
done = sum(statuses.values())
truth_exchange = sum(1 for l in open(f"{work}/truth.jsonl") if json.loads(l)["expect"]["class"] == "exchange")
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/time").read()).group(1))
root = ET.parse(f"{work}/nmap.xml").getroot()
nmap_done = len(root.findall("host"))
ntlm = sum(1 for s in root.iter("script") if s.get("id") == "http-ntlm-info" and "NetBIOS" in (s.get("output") or ""))
scripted = sum(1 for h in root.findall("host") if h.find(".//script") is not None)
ex, nm = t1 - t0, t3 - t2
ex_rate, nm_rate = done / ex, nmap_done / nm if nm > 0 else 0.0
print(f"lab: {hosts} hosts ({truth_exchange} Exchange), 2 cores shared by the lab and the scanner")
print(f"exhunt scan  : {done:6d} targets in {ex:7.1f} s = {ex_rate:8.0f} fingerprints/s "
      f"(concurrency {conc}; {exchange} Exchange; {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
print(f"nmap 4 scripts: {nmap_done:6d} hosts   in {nm:7.1f} s = {nm_rate:8.1f} fingerprints/s "
      f"({scripted} hosts with script output, {ntlm} NTLM answers)")
if steady is None:
    print(f"exhunt steady : n/a (all {hosts} targets in flight at once; use more hosts than --concurrency {conc})")
else:
    print(f"exhunt steady : {steady:8.0f} fingerprints/s (10th to 90th percentile of finishing times)")
print(f"ratio exhunt/nmap: {ex_rate / nm_rate:.1f}x" if nm_rate else "ratio: nmap scanned nothing")
print(f"goal 3,000/s: whole run {ex_rate / 3000:.2f} of it" +
      (f", steady state {steady / 3000:.2f} of it" if steady else ""))
floor = float(re.search(r"two-rounds:.* = (\d+)/s", open(f"{work}/floor").read()).group(1))
print(f"TCP+TLS floor (handshake + two pipelined rounds, one process): {floor:.0f}/s; " +
      (f"exhunt steady state / floor: {steady / floor:.2f}; " if steady else "") + f"the goal / floor: {3000 / floor:.2f}")
print(f"exhunt peak RSS: {rss / 1024:.0f} MiB")
print("exhunt vs the lab's truth: " + open(f"{work}/compare").read().rstrip())
PY
