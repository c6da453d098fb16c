-- wrk script of bench/run.sh: one fixed GET per request, result as one JSON line.
--   wrk -t1 -cN -dS -s bench/wrk.lua http://LISTENER/ -- TARGET
-- TARGET "http://host:port/path" sends the absolute-form line a client sends to a forward
-- proxy (with the matching Host header); "/path" sends the origin-form line of the direct path.
local line

function init(args)
  local target = args[1] or "/"
  local hdrs = {}
  local authority = string.match(target, "^http://([^/]+)")
  if authority then
    hdrs["Host"] = authority
  end
  line = wrk.format("GET", target, hdrs)
end

function request()
  return line
end

-- Fields read by harness.py; latencies in microseconds.
function done(s, lat, _)
  local e = s.errors
  io.write(string.format(
    '{"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p99":%d}\n',
    s.requests, s.duration, e.connect, e.read, e.write, e.status, e.timeout,
    lat:percentile(50), lat:percentile(99)))
end
