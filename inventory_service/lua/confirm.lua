-- Mark the hold of reservation id ARGV[1] as sold, so it never expires.
-- KEYS: 1 stock hash, 2 holds hash, 3 expiry zset.
-- Returns {confirmed (0/1), previous state}; state codes match HoldState:
-- 1 held, 2 confirmed, 3 released, 4 unknown. A released or unknown hold
-- is left as it is.
local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then
  return {0, 4}
end

local state, qty = string.match(record, '^(%a):(%d+)')
if state == 'C' then
  return {1, 2}
elseif state == 'R' then
  return {0, 3}
end

redis.call('HINCRBY', KEYS[1], 'held', -tonumber(qty))
redis.call('HSET', KEYS[2], ARGV[1], 'C:' .. qty)
redis.call('ZREM', KEYS[3], ARGV[1])
return {1, 1}
