-- Return the tickets of reservation id ARGV[1] to stock, once.
-- KEYS: 1 stock hash, 2 holds hash, 3 expiry zset.
-- ARGV: 1 reservation id, 2 quantity to return when the hold is unknown
-- (0 when the caller cannot vouch for one; see below).
-- Returns {released (0/1), previous state, available}; previous state codes
-- match HoldState: 1 held, 2 confirmed, 3 released, 4 unknown.
-- Returns {-1, 0, 0} without changing anything when the stock counter is
-- missing: stock is then rebuilt from PostgreSQL, which already counts this.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1, 0, 0}
end

local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then
  -- An unknown id gets a tombstone so that a Reserve arriving late with
  -- this id takes nothing. A caller that knows the tickets were sold (a
  -- confirmed booking being cancelled after Redis lost its holds) passes
  -- the quantity, and those tickets return to stock.
  local qty = tonumber(ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[1], 'R:' .. qty)
  local available = redis.call('HINCRBY', KEYS[1], 'available', qty)
  return {qty > 0 and 1 or 0, 4, available}
end

local state, qty = string.match(record, '^(%a):(%d+)')
qty = tonumber(qty)
if state == 'R' then
  return {0, 3, tonumber(redis.call('HGET', KEYS[1], 'available'))}
end

if state == 'H' then
  redis.call('HINCRBY', KEYS[1], 'held', -qty)
  redis.call('ZREM', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], 'R:' .. qty)
local available = redis.call('HINCRBY', KEYS[1], 'available', qty)
return {1, state == 'H' and 1 or 2, available}
