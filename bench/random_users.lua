-- wrk script: GET the account list of a random user u0 … u{USERS-1}.
local users = tonumber(os.getenv("USERS") or "100000")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", "/users/u" .. math.random(0, users - 1) .. "/accounts")
end
