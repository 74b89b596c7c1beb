-- W2 of bench/run: POST /api/v1/oauth/token, a different seeded code per request.
-- Environment: BENCH_CODES (file, one code per line), BENCH_CLIENT_ID,
-- BENCH_CLIENT_SECRET, BENCH_REDIRECT_URI; BENCH_OUT (summary) and
-- BENCH_TOKENS (the keys of every 200, for the durability check).

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
  ok = 0
  exhausted = 0
  tokens = {}
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

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    local t = body:match('"token":"(%x+)"')
    if t then tokens[#tokens + 1] = t end
  end
end

function done(summary, latency, requests)
  local ok_total, exhausted_total = 0, 0
  local f = io.open(os.getenv("BENCH_TOKENS"), "w")
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    exhausted_total = exhausted_total + thread:get("exhausted")
    for _, t in ipairs(thread:get("tokens")) do f:write(t, "\n") end
  end
  f:close()
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format("ok=%d exhausted=%d\n", ok_total, exhausted_total))
  out:close()
end
