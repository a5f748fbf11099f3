#!/usr/bin/env bash
# Every benchmark of bench/RESULTS.md, one after the other, each with the time and the load
# average before it; Spark's start-up notices and the runs' progress lines are left out.
# Run it on an otherwise idle machine: bench/run_all.sh > bench-output.txt
set -uo pipefail
cd "$(dirname "$0")/.."
noise='WARN|log4j|^Using Spark|^Setting default log level|^To adjust logging|stopped the engine|^running |^  |engine:|^pl-|full log|^not applied|^\s*$'
for command in "bench/bench_throughput.py" "bench/bench_wide_tables.py" \
    "bench/bench_read_metadata.py" "bench/bench_stock_vs_sdp.py --repeat 3" \
    "bench/bench_incremental.py --repeat 3" "bench/bench_deploy_scale.py" \
    "bench/bench_table_tests.py"; do
  echo "== ${command}  ($(date +%H:%M:%S), $(uptime | sed 's/.*load average/load average/'))"
  # shellcheck disable=SC2086  # the command's own arguments
  .venv/bin/python $command 2>&1 | grep -Ev "$noise"
done
echo "== done $(date +%H:%M:%S)"
