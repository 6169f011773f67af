-- wrk: GET /callbacks/vnpay/ipn with a different, correctly signed IPN per request, read from
-- ANTIN_IPN_FILE (written by examples/bench_payments_prep.rs). Thread t of T takes lines t, t+T, ...
local next_id = 0
local nthreads = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  nthreads = nthreads + 1
end

function init(args)
  paths = {}
  local f = assert(io.open(os.getenv("ANTIN_IPN_FILE"), "r"))
  local i = 0
  local stride = tonumber(os.getenv("ANTIN_THREADS") or "1")
  for line in f:lines() do
    if i % stride == tid then
      paths[#paths + 1] = line
    end
    i = i + 1
  end
  f:close()
  n = 0
end

function request()
  n = n + 1
  if n > #paths then
    -- Out of fresh IPNs: replays from here on (reported by the script).
    n = 1
    replays = true
  end
  return wrk.format("GET", paths[n])
end

function done(summary, latency, requests)
  io.write(string.format("p50=%.2fms p90=%.2fms p99=%.2fms requests=%d errors(status)=%d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status))
end
