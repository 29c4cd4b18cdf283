-- wrk script for bench/webhook_load.py: one signed GitHub `issues` delivery, the same body every
-- time (so its signature is computed once), with a fresh X-GitHub-Delivery per request; counts
-- the answers that are not 202 and prints one RESULT line for the Python side to read.
--
--   wrk -t1 -c16 -d10s -s bench/webhook_load.lua URL -- BODY_FILE SIGNATURE PREFIX

local threads = {}

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  payload = file:read("*a")
  file:close()
  signature = args[2]
  prefix = args[3] .. "-" .. number .. "-"
  sent = 0
  non202 = 0
end

function request()
  sent = sent + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "issues",
    ["X-GitHub-Delivery"] = prefix .. sent,
    ["X-Hub-Signature-256"] = signature,
  }, payload)
end

function response(status, headers, body)
  if status ~= 202 then
    non202 = non202 + 1
  end
end

function done(summary, latency, requests)
  local refused = 0
  for _, thread in ipairs(threads) do
    refused = refused + thread:get("non202")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d non202=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d"
      .. " connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, refused, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
