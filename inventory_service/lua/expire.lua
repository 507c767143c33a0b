-- Release the hold ARGV[1] only if it is still held and past its deadline.
-- KEYS: 1 stock hash, 2 holds hash, 3 expiry zset.
-- Returns 1 when the tickets went back to stock, else 0 (the hold was
-- confirmed, released, unknown or not yet due: nothing changes).
local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then
  return 0
end
local qty, deadline = string.match(record, '^H:(%d+):(%d+)$')
if not qty then
  return 0
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if tonumber(deadline) > now then
  return 0
end
qty = tonumber(qty)
redis.call('HINCRBY', KEYS[1], 'held', -qty)
redis.call('HINCRBY', KEYS[1], 'available', qty)
redis.call('HSET', KEYS[2], ARGV[1], 'R:' .. qty)
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
