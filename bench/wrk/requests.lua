-- Sends requests round-robin from a file, one request per line: the line is an extra header
-- ("Authorization: Bearer ...", "X-API-Key: ...") or empty for none. `wrk ... -- <file> <offset>`
-- starts at line <offset> + 1, so a measured run can continue after the tokens its warm-up used.
-- done() prints one JSON line the harness parses (latencies in microseconds).

local requests = {}
local count = 0
local index = 0

function init(args)
  local path = args[1]
  local offset = tonumber(args[2] or "0")
  for line in io.lines(path) do
    local headers = {}
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
    count = count + 1
    requests[count] = wrk.format(nil, nil, headers)
  end
  if count == 0 then error("no requests in " .. path) end
  index = offset % count
end

function request()
  index = index + 1
  if index > count then index = 1 end
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx3xx":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
