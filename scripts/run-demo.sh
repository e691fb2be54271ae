#!/usr/bin/env bash
# `make run`: the app in demo mode on SQLite, beside the bundled Factorial sandbox.
# Everything lives in instance/ and survives a restart: the app's database and generated
# secrets, and the sandbox's database (so connections made before a restart keep working).
set -euo pipefail
BIN=$1 APP_PORT=$2 SANDBOX_PORT=$3
cd "$(dirname "$0")/.."
export APP_ENV=demo FLASK_APP=wsgi
export FACTORIAL_DEMO_BASE_URL="${FACTORIAL_DEMO_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT}"
export FACTORIAL_DEMO_REDIRECT_URI="${FACTORIAL_DEMO_REDIRECT_URI:-http://127.0.0.1:$APP_PORT/oauth/callback}"
mkdir -p instance

# `flask --app wsgi …` typed in this checkout reads .env: make it reach the demo too (a .env
# written by make run is kept up to date; anyone else's is only read: we say what it lacks).
env_note=$("$BIN/flask" demo dotenv APP_ENV=demo \
  "FACTORIAL_DEMO_BASE_URL=$FACTORIAL_DEMO_BASE_URL" \
  "FACTORIAL_DEMO_REDIRECT_URI=$FACTORIAL_DEMO_REDIRECT_URI")
"$BIN/flask" db upgrade
"$BIN/flask" demo bootstrap
pids=()
ready=$(mktemp)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -f "$ready"
}
trap cleanup EXIT INT TERM
if [ -f sandbox/__main__.py ]; then
  # The sandbox says on stderr whether it started fresh or resumed instance/sandbox.sqlite3.
  "$BIN/python" -m sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --mode demo \
    --db instance/sandbox.sqlite3 --redirect-uri "$FACTORIAL_DEMO_REDIRECT_URI" >"$ready" &
  sandbox_pid=$!
  pids+=("$sandbox_pid")
  for _ in $(seq 300); do
    [ -s "$ready" ] && break
    if ! kill -0 "$sandbox_pid" 2>/dev/null; then
      echo "The Factorial sandbox did not start (see above)." >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ ! -s "$ready" ]; then
    echo "The Factorial sandbox did not start within 30 seconds." >&2
    exit 1
  fi
fi
echo
echo "  Factorial Connect:  http://127.0.0.1:$APP_PORT   (sign in with the demo admin above)"
echo "  Factorial sandbox:  $FACTORIAL_DEMO_BASE_URL   (state kept in instance/; delete instance/ to start over)"
echo "  Single sign-on:     \"Sign in with the sandbox identity provider\", then pick a person"
echo "                      (ana@acme.example: admin, bruno@acme.example: viewer; the others are refused)"
if [ -n "$env_note" ]; then
  echo
  echo "$env_note" | sed 's/^/  /'
fi
echo
"$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$APP_PORT" --workers 1 --threads 8 wsgi:app &
pids+=($!)
wait -n "${pids[@]}"
