-- Start, or check on, the quiet period before a lost counter is rebuilt.
-- KEYS: 1 stock hash, 2 rebuild marker (a string: Unix ms when the
-- rebuild may run, on Redis' clock).
-- ARGV: 1 quiet period in milliseconds.
-- Returns {stock_exists (0/1), wait_ms}.
--
-- Holds taken before Redis lost its data may still turn into bookings
-- until their deadlines pass. Rebuilding available = total - sold before
-- then would count their tickets twice, so the first caller after the loss
-- sets the marker to now + the quiet period, and the rebuild waits for it.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {1, 0}
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ready_at = redis.call('GET', KEYS[2])
if not ready_at then
  ready_at = now + tonumber(ARGV[1])
  -- The marker outlives the wait, so a late caller still sees it.
  redis.call('SET', KEYS[2], ready_at, 'PX', 10 * tonumber(ARGV[1]) + 60000)
end
return {0, math.max(0, tonumber(ready_at) - now)}
