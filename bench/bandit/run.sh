#!/usr/bin/env bash
# Bandit decide + reward speed on one core (numbers only). Builds nothing:
# build bandit_bench first (cmake --build build --target bandit_bench).
#   bench/bandit/run.sh            # TS/UCB/egreedy/GTS with K=50, LinUCB/LinTS with d=20, K=50
#   ARMS=100 DIM=10 bench/bandit/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bench/bandit/bandit_bench}
ARMS=${ARMS:-50}
DIM=${DIM:-20}
taskset -c 0 "$BIN" --arms "$ARMS" --dim "$DIM" --steps "${STEPS:-1000000}"
taskset -c 0 "$BIN" --arms "$ARMS" --dim "$DIM" --steps "${STEPS:-1000000}" --propensities
