-- Sends requests round-robin from a file, one request per line: the line is an extra header
-- ("Authorization: Bearer ...", "X-API-Key: ...") or empty for none. `wrk ... -- <file> <offset>`
-- starts at line <offset> + 1, so a measured run can continue after the tokens its warm-up used.
-- A POST scenario adds `<method> <body> <header line>...`: every request then has that method,
-- body (wrk adds Content-Length) and those headers besides its line's.
-- done() prints one JSON line the harness parses (latencies in microseconds).

local requests = {}
local count = 0
local index = 0

local function header(line, headers)
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then headers[name] = value end
end

function init(args)
  local path = args[1]
  local offset = tonumber(args[2] or "0")
  local method = args[3]
  local body = args[4]
  for line in io.lines(path) do
    local headers = {}
    for i = 5, #args do header(args[i], headers) end
    header(line, headers)
    count = count + 1
    requests[count] = wrk.format(method, nil, headers, body)
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
