-- wrk script: each connection waits DELAY_MS between requests, to hold a rate below the peak.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

function delay()
  return delay_ms
end
