-- Create an event's stock counter, or overwrite it when ARGV[3] is 1.
-- KEYS: 1 stock hash, 2 holds hash.
-- ARGV: 1 available, 2 total, 3 replace (0/1), 4.. reservation ids to
-- record as released (tombstones) when the counter is written.
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
for i = 4, #ARGV do
  if not redis.call('HGET', KEYS[2], ARGV[i]) then
    redis.call('HSET', KEYS[2], ARGV[i], 'R:0')
  end
end
return {1, tonumber(ARGV[2]), tonumber(ARGV[1]), held}
