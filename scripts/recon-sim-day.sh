#!/usr/bin/env bash
# A simulated day end to end: payments through the gateway simulators, their settlement files, the
# gateways' payouts and the bank statement, then `antin recon` import, run and report.
# Needs `antin serve` running with the development configuration (it starts the simulators).
#   ANTIN=target/debug/antin scripts/recon-sim-day.sh [OUTDIR]
# ANTIN_URL / SIM_URL override https://127.0.0.1:8443 and http://127.0.0.1:8790; the antin binary
# must see the same database as the server (same ANTIN_DATABASE__URL / --config).
set -euo pipefail
ANTIN=${ANTIN:-target/debug/antin}
API=${ANTIN_URL:-https://127.0.0.1:8443}
SIM=${SIM_URL:-http://127.0.0.1:8790}
CA=${ANTIN_CA:-data/tls/server.pem}
OUT=${1:-data/recon-day}
mkdir -p "$OUT"
DAY=$(TZ=Asia/Ho_Chi_Minh date +%F)

key() { $ANTIN keys create --role "$1" --name "recon-day-$1-$RANDOM" 2>/dev/null | awk '/^key:/ {print $2}'; }
PORTAL=$(key portal)
api() { curl -sf --cacert "$CA" -H "Authorization: Bearer $PORTAL" -H content-type:application/json "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

pay() { # gateway amount tag -> prints the attempt reference
  local gw=$1 amount=$2 tag=$3 id ref url
  id=$(api -X POST "$API/v1/payments" -H "Idempotency-Key: day-$tag" -d "{\"dossier_ref\":\"HS-$tag\",\"agency\":\"dev\",\"procedure_code\":\"1.004227\",\"fee_code\":\"LPCT\",\"amount\":$amount,\"payer\":{\"name\":\"Nguyễn Văn An\"}}" | json "['id']")
  local a; a=$(api -X POST "$API/v1/payments/$id/attempts" -H "Idempotency-Key: day-$tag-a" -d "{\"gateway\":\"$gw\"}")
  ref=$(echo "$a" | json "['reference']")
  url=$(echo "$a" | json ".get('redirect_url') or ''")
  if [ -n "$url" ]; then curl -s -o /dev/null "$url"; fi
  echo "$ref"
}

for i in 1 2 3; do
  for gw in vnpay momo zalopay; do
    ref=$(pay $gw $((i * 50000)) "$gw-$i-$RANDOM")
    curl -sf -X POST "$SIM/$gw/sim/orders/$ref/pay" > /dev/null
  done
  ref=$(pay vietqr $((i * 20000)) "qr-$i-$RANDOM")
  curl -sf -X POST "$SIM/bank/sim/transfer" -H content-type:application/json \
    -d "{\"account\":\"113366668888\",\"amount\":$((i * 20000)),\"memo\":\"ANTIN$ref\"}" > /dev/null
done
# Injected: a payment the gateway took but whose callback never came (antin: pending) ...
ref=$(pay momo 70000 "momo-lost-$RANDOM")
curl -sf -X POST "$SIM/momo/sim/orders/$ref/no-callback" > /dev/null
# ... and a transfer to the agency's account that names no payment.
curl -sf -X POST "$SIM/bank/sim/transfer" -H content-type:application/json \
  -d '{"account":"113366668888","amount":12345,"memo":"CHUYEN TIEN"}' > /dev/null
sleep 2
for gw in vnpay momo zalopay; do
  curl -sf "$SIM/$gw/sim/settlement?date=$DAY" -o "$OUT/$gw-$DAY.csv"
done
# ... and ZaloPay never pays its settlement out (missing at the bank once past the SLA).
for gw in vnpay momo; do
  curl -s -X POST "$SIM/$gw/sim/settlement/payout?date=$DAY" > /dev/null
done
curl -sf "$SIM/bank/sim/statement?date=$DAY&format=camt053" -o "$OUT/statement-$DAY.xml"
curl -sf "$SIM/bank/sim/statement?date=$DAY&format=mt940" -o "$OUT/statement-$DAY.mt940"

for gw in vnpay momo zalopay; do $ANTIN recon import "$OUT/$gw-$DAY.csv" --source $gw; done
$ANTIN recon import "$OUT/statement-$DAY.xml" --source bank
set +e
# Reconciled a week later, so the missing payout is past its SLA.
AS_OF=$(python3 -c "import datetime; print(datetime.date.fromisoformat('$DAY') + datetime.timedelta(days=7))")
$ANTIN recon run --date "$DAY" --as-of "$AS_OF"
$ANTIN recon report --date "$DAY"
$ANTIN recon report --date "$DAY" --format xlsx --out "$OUT/doi-soat-$DAY.xlsx"
$ANTIN recon report --date "$DAY" --format pdf --out "$OUT/doi-soat-$DAY.pdf"
$ANTIN recon report --date "$DAY" --format json > "$OUT/report-$DAY.json"
echo "exit code of the report: $? (1: open discrepancies remain)"
