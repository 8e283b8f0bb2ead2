-- wrk script: GET the account list of a random user u0 … u{USERS-1} (or always of USER); with
-- WRITE_PERCENT set, that share of requests PATCHes the balance of the user's first account
-- instead; with DELAY_MS set, each connection waits that long between requests, to hold a rate
-- below the peak. With TOKENS (a file, one bearer token a line) every request comes as if from
-- another client: a random token of the file, and a random X-Forwarded-For (for a server that
-- trusts one proxy), so that per-client rate limits are counted but never reached.
local users = tonumber(os.getenv("USERS") or "100000")
local fixed_user = os.getenv("USER_ID")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local write_percent = tonumber(os.getenv("WRITE_PERCENT") or "0")
local patch_headers = { ["Content-Type"] = "application/json" }
local tokens = {}
if os.getenv("TOKENS") then
  for line in io.lines(os.getenv("TOKENS")) do
    tokens[#tokens + 1] = line
  end
end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed)
end

local function client_headers()
  if #tokens == 0 then
    return nil
  end
  return {
    ["Authorization"] = "Bearer " .. tokens[math.random(1, #tokens)],
    ["X-Forwarded-For"] = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254),
  }
end

function request()
  local user = fixed_user or ("u" .. math.random(0, users - 1))
  if math.random(1, 100) <= write_percent then
    local body = '{"balance": ' .. math.random(1, 99999) .. '.25}'
    return wrk.format("PATCH", "/users/" .. user .. "/accounts/" .. user .. "-acc1", patch_headers, body)
  end
  return wrk.format("GET", "/users/" .. user .. "/accounts", client_headers())
end

function delay()
  return delay_ms
end
