-- wrk script: GET the account list of a random user u0 … u{USERS-1}; with WRITE_PERCENT set,
-- that share of requests PATCHes the balance of the user's first account instead; with DELAY_MS
-- set, each connection waits that long between requests, to hold a rate below the peak.
local users = tonumber(os.getenv("USERS") or "100000")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local write_percent = tonumber(os.getenv("WRITE_PERCENT") or "0")
local patch_headers = { ["Content-Type"] = "application/json" }

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed)
end

function request()
  local user = "u" .. math.random(0, users - 1)
  if math.random(1, 100) <= write_percent then
    local body = '{"balance": ' .. math.random(1, 99999) .. '.25}'
    return wrk.format("PATCH", "/users/" .. user .. "/accounts/" .. user .. "-acc1", patch_headers, body)
  end
  return wrk.format("GET", "/users/" .. user .. "/accounts")
end

function delay()
  return delay_ms
end
