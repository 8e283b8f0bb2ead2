-- wrk script: 90% GETs of a random user's list, 10% PATCHes of that user's first account's balance.
local users = tonumber(os.getenv("USERS") or "100000")
local patch_headers = { ["Content-Type"] = "application/json" }

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed)
end

function request()
  local user = "u" .. math.random(0, users - 1)
  if math.random(1, 10) == 1 then
    local body = '{"balance": ' .. math.random(1, 99999) .. '.25}'
    return wrk.format("PATCH", "/users/" .. user .. "/accounts/" .. user .. "-acc1", patch_headers, body)
  end
  return wrk.format("GET", "/users/" .. user .. "/accounts")
end
