#!/usr/bin/env bash
# `make run`: the app in demo mode on SQLite, beside the bundled Factorial sandbox.
set -euo pipefail
BIN=$1 APP_PORT=$2 SANDBOX_PORT=$3
cd "$(dirname "$0")/.."
export APP_ENV=demo FLASK_APP=wsgi
export FACTORIAL_DEMO_BASE_URL="${FACTORIAL_DEMO_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT}"
export FACTORIAL_DEMO_REDIRECT_URI="${FACTORIAL_DEMO_REDIRECT_URI:-http://127.0.0.1:$APP_PORT/oauth/callback}"
mkdir -p instance
"$BIN/flask" db upgrade
"$BIN/flask" demo bootstrap
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -f sandbox/__main__.py ]; then
  "$BIN/python" -m sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --mode demo \
    --db instance/sandbox.sqlite3 --redirect-uri "$FACTORIAL_DEMO_REDIRECT_URI" &
  pids+=($!)
fi
echo
echo "  Factorial Connect:  http://127.0.0.1:$APP_PORT   (sign in with the demo admin above)"
echo "  Factorial sandbox:  $FACTORIAL_DEMO_BASE_URL"
echo
"$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$APP_PORT" --workers 1 --threads 8 wsgi:app &
pids+=($!)
wait -n "${pids[@]}"
