-- Create an event's stock counter, or overwrite it when ARGV[3] is 1.
-- KEYS: 1 stock hash.
-- ARGV: 1 available, 2 total, 3 replace (0/1).
-- Returns {initialised (0/1), total, available, held}.
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and ARGV[3] ~= '1' then
  local current = redis.call('HMGET', KEYS[1], 'total', 'available', 'held')
  return {0, tonumber(current[1]), tonumber(current[2]), tonumber(current[3] or '0')}
end

local held = 0
if exists then
  held = tonumber(redis.call('HGET', KEYS[1], 'held') or '0')
end
redis.call('HSET', KEYS[1], 'total', ARGV[2], 'available', ARGV[1], 'held', held)
return {1, tonumber(ARGV[2]), tonumber(ARGV[1]), held}
