#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md. Needs PostgreSQL at 127.0.0.1:5432 for the
# PostgreSQL rows (see the README). Takes a few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== machine"
uptime; nproc; grep -m1 'model name' /proc/cpuinfo || true; free -h | head -2

echo "== render: one playbook step for every platform (criterion)"
cargo bench -p tocsin-domain --bench render -- --warm-up-time 2 --measurement-time 5

echo "== audit: durable appends and verification"
cargo bench -p tocsin-store --bench append

echo "== fan-out: approval to every delivery recorded, fake servers (own process) at 100 ms"
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 1000 --runs 5
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 1000 --runs 5 --fakes-in-process
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 1000 --runs 5 --platforms all
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 1000 --runs 5 --rate-limited-percent 5
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 10000 --runs 3
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 1000 --runs 5 --backend postgres
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 1000 --runs 5 --backend postgres --nodes 3
cargo bench -p tocsin-dispatch --bench fanout -- --accounts 10000 --runs 2 --backend postgres --nodes 3

echo "== fan-out through the front door: tocsin serve set up over its CLI and HTTP API, approve to"
echo "   every delivery on the panel's websocket, beside a plain client posting the same statuses"
cargo bench -p tocsin --bench front_door -- --accounts 1000 --runs 5
cargo bench -p tocsin --bench front_door -- --accounts 10000 --runs 3

echo "== side by side: Apprise (python3 -m pip install apprise) on the same fakes"
if python3 -c "import apprise" 2>/dev/null; then
  python3 scripts/compare_apprise.py --accounts 1000 --runs 3
else
  echo "skipped: Apprise is not installed (python3 -m pip install apprise)"
fi

echo "== idle server memory: tocsin serve (dist profile, as packaged) on SQLite, then 100 idle panels"
cargo bench -p tocsin --profile dist --bench idle_memory

echo "== websocket panels: publish to receipt at every panel, server memory per socket"
cargo bench -p tocsin-web --bench ws_panels -- --panels 1000
cargo bench -p tocsin-web --bench ws_panels -- --panels 10000
cargo bench -p tocsin-web --bench ws_panels -- --panels 1000 --events 3000 --rate 3000
