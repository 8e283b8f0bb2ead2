#!/usr/bin/env bash
# Tries gunicorn worker settings on cached reads of user123 (wrk -t2 -c32, RUNS runs of SECONDS s):
#   bash bench/workers.sh [DATABASE_URL]
# With no argument, the in-memory store; with a database URL (already seeded, e.g. the
# accounts_compare database that bench/compare.py leaves behind), that database. Each line of
# GUNICORN_CMD_ARGS below overrides gunicorn.conf.py; the last column is wrk's p99.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECONDS_EACH=${SECONDS_EACH:-8}
PORT=${PORT:-8123}
export ACCOUNTS_AUTH=off ACCOUNTS_RATE_LIMIT_PER_ADDRESS= ACCOUNTS_RATE_LIMIT_PER_TOKEN= PORT
if [ $# -gt 0 ]; then export ACCOUNTS_DATABASE_URL=$1; fi
command -v wrk >/dev/null || apt-get install -y -q wrk
settings=(
  "--workers 1 --threads 1"
  "--workers 1 --threads 4"
  "--workers 2 --threads 1"
  "--workers 2 --threads 4"
  "--workers 4 --threads 1"
  "--workers 4 --threads 4"
  "--workers 2 --worker-class sync"
  "--workers 4 --worker-class sync"
)
for setting in "${settings[@]}"; do
  if [ -z "${ACCOUNTS_DATABASE_URL:-}" ] && [[ $setting != "--workers 1 "* ]]; then
    continue  # in memory, more processes would each hold their own copy of the data
  fi
  GUNICORN_CMD_ARGS=$setting .venv/bin/python -m gunicorn -c gunicorn.conf.py wsgi:app \
    >/dev/null 2>&1 &
  server=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/users/user123/accounts"; do sleep 0.5; done
  for _ in $(seq "$RUNS"); do
    wrk -t2 -c32 -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT/users/user123/accounts" |
      awk -v s="$setting" '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print s " | " rps " | " p99}'
  done
  kill "$server"
  wait "$server" || true
done
