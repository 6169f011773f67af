-- wrk: POST /v1/payments with a unique Idempotency-Key per request (thread id + counter).
-- ANTIN_KEY: a portal API key. ANTIN_RUN: a prefix making keys unique across runs.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  key = os.getenv("ANTIN_KEY")
  run = os.getenv("ANTIN_RUN") or "r"
  n = 0
end

function request()
  n = n + 1
  local body = string.format(
    '{"dossier_ref":"HS-B-%d-%d","agency":"dev","procedure_code":"1.001","fee_code":"LP",' ..
    '"amount":50000,"payer":{"name":"Nguyen Van An"}}', tid, n)
  return wrk.format("POST", "/v1/payments", {
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, n),
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("p50=%.2fms p90=%.2fms p99=%.2fms requests=%d errors(status)=%d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status))
end
