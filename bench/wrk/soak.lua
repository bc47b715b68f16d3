-- The soak's mixed traffic: each line of the file is "<path>\t<header line or empty>", sent
-- round-robin, and every response's status is counted. done() prints one JSON line with the
-- counts per status (the harness checks that only the expected ones occur).

local requests = {}
local count = 0
local index = 0
local threads = {}
statuses = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local path, header = line:match("^([^\t]*)\t(.*)$")
    local headers = {}
    local name, value = (header or ""):match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
    count = count + 1
    requests[count] = wrk.format(nil, path, headers)
  end
  if count == 0 then error("no requests in " .. args[1]) end
  index = tonumber(args[2] or "0") % count
end

function request()
  index = index + 1
  if index > count then index = 1 end
  return requests[index]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, n in pairs(counted) do totals[status] = (totals[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(totals) do table.insert(parts, string.format('"%d":%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_SOAK {"requests":%d,"duration_us":%d,"socket_errors":%d,"p99_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(99), table.concat(parts, ",")))
end
