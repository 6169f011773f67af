#!/usr/bin/env bash
# Throughput and latency of the portal's POST /v1/payments and of callback handling (fresh,
# correctly signed VNPAY IPNs, each moving a pending attempt to succeeded), with wrk as the load
# generator, against the release `antin serve` with durable commits.
#
#   scripts/bench-payments.sh [sqlite|postgres]
#
# Environment: DURATION (10s), CONNS (64), THREADS (2), PREP (60000 IPNs prepared),
# GROUP_COMMIT (true|false), SERVER_CPUS / LOAD_CPUS (taskset lists, e.g. 1 and 0; default none),
# ANTIN_BENCH_POSTGRES (postgres://postgres@127.0.0.1:5432/test, the admin URL for a fresh database).
# SQLite runs in WAL mode with synchronous=FULL on a disk file under /var/tmp (not tmpfs: the fsync
# at every commit must be real); PostgreSQL with its own settings (fsync and synchronous_commit as
# the server has them; printed).
set -euo pipefail
DB=${1:-sqlite}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PREP=${PREP:-60000}
GROUP_COMMIT=${GROUP_COMMIT:-true}
PGADMIN=${ANTIN_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi
fi
# Two invocations: the server is built with the features users get; the example (which pulls the
# dev-dependencies' features) separately.
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --bin antin
    cargo build --release --example bench_payments_prep
fi
BIN=target/release/antin
PREPBIN=target/release/examples/bench_payments_prep

WORK=$(mktemp -d /var/tmp/antin-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
case "$DB" in
    sqlite) URL="sqlite://$WORK/antin.db" ;;
    postgres)
        NAME="antin_bench_$(date +%s)"
        psql "$PGADMIN" -qc "CREATE DATABASE $NAME"
        URL="${PGADMIN%/*}/$NAME"
        echo "PostgreSQL: fsync=$(psql "$PGADMIN" -Atc 'show fsync') synchronous_commit=$(psql "$PGADMIN" -Atc 'show synchronous_commit')"
        ;;
    *) echo "usage: $0 [sqlite|postgres]" >&2; exit 64 ;;
esac
cat > "$WORK/bench.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
public_url = "https://localhost:$PORT"
tls_cert = "$WORK/tls.pem"
tls_key = "$WORK/tls.key"
[database]
url = "$URL"
max_connections = 8
group_commit = $GROUP_COMMIT
[auth]
dev_keys = false
[trust]
anchor_dir = "$WORK/anchors"
intermediate_dir = "$WORK/intermediates"
[log]
level = "error"
[audit]
signing_key = "$WORK/audit/checkpoint.key"
pseudonym_key = "$WORK/audit/pseudonym.key"
[payments]
simulators = false
TOML
KEY=$("$BIN" --config "$WORK/bench.toml" keys create --role portal --name dev-portal 2>/dev/null | awk '/^key:/ {print $2}')
pin() { if [ -n "${1:-}" ]; then echo "taskset -c $1"; fi; }
$(pin "${SERVER_CPUS:-}") "$BIN" --config "$WORK/bench.toml" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do
    curl -sf --cacert "$WORK/tls.pem" "https://localhost:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); db=$DB group_commit=$GROUP_COMMIT conns=$CONNS threads=$THREADS duration=$DURATION server_cpus=${SERVER_CPUS:-any} load_cpus=${LOAD_CPUS:-any}"
echo "== preparing $PREP payments with a pending VNPAY attempt each"
"$PREPBIN" "https://localhost:$PORT" "$KEY" "$WORK/tls.pem" "$PREP" "$WORK/ipn.txt"
echo "== POST /v1/payments"
ANTIN_KEY=$KEY ANTIN_RUN="b$(date +%s)" $(pin "${LOAD_CPUS:-}") wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
    -s scripts/bench/create.lua "https://localhost:$PORT" | tee "$WORK/create.txt"
echo "== GET /callbacks/vnpay/ipn (fresh IPNs: pending -> succeeded)"
ANTIN_IPN_FILE="$WORK/ipn.txt" ANTIN_THREADS=$THREADS $(pin "${LOAD_CPUS:-}") wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
    -s scripts/bench/callback.lua "https://localhost:$PORT" | tee "$WORK/callback.txt"
REQS=$(awk '/requests=/ {for (i=1;i<=NF;i++) if ($i ~ /^requests=/) {split($i,a,"="); print a[2]}}' "$WORK/callback.txt")
if [ "${REQS:-0}" -gt "$PREP" ]; then
    echo "NOTE: $REQS callbacks > $PREP prepared: the excess were replays of final attempts (raise PREP)"
fi
if grep -q . "$WORK/serve.err"; then echo "== server errors:"; tail -5 "$WORK/serve.err"; fi
