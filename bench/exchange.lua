-- W2 of bench/run: POST /api/v1/oauth/token, a different seeded code per request.
-- Environment: BENCH_CODES (file, one code per line), BENCH_CLIENT_ID,
-- BENCH_CLIENT_SECRET, BENCH_REDIRECT_URI; BENCH_OUT (summary).
-- No response() hook: wrk then hands every response to Lua (headers and
-- body), which cost this single wrk thread, on the server's two cores, 5-15 %
-- of W2. wrk counts the non-2xx itself; the durability check has its own
-- driver (bench_seed exchange), which keeps every key it is given.

local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  local i, n = 0, 0
  local step = tonumber(os.getenv("BENCH_THREADS") or "1")
  for line in io.lines(os.getenv("BENCH_CODES")) do
    -- Thread k takes the lines k, k+step, ...: no code is sent twice.
    if i % step == id then
      n = n + 1
      codes[n] = line
    end
    i = i + 1
  end
  next_code = 1
  exhausted = 0
  prefix = '{"client_id":"' .. os.getenv("BENCH_CLIENT_ID")
    .. '","client_secret":"' .. os.getenv("BENCH_CLIENT_SECRET")
    .. '","grant_type":"authorization_code","redirect_uri":"' .. os.getenv("BENCH_REDIRECT_URI")
    .. '","code":"'
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  local code = codes[next_code]
  if code == nil then
    exhausted = exhausted + 1
    code = "exhausted"
  else
    next_code = next_code + 1
  end
  return wrk.format("POST", "/api/v1/oauth/token", headers, prefix .. code .. '"}')
end

function done(summary, latency, requests)
  local exhausted_total = 0
  for _, thread in ipairs(threads) do
    exhausted_total = exhausted_total + thread:get("exhausted")
  end
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format("ok=%d exhausted=%d\n", summary.requests - summary.errors.status, exhausted_total))
  out:close()
end
