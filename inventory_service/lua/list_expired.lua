-- List up to ARGV[1] holds of one event whose deadline has passed.
-- KEYS: 1 holds hash, 2 expiry zset.
-- Returns a flat list: reservation id, quantity, deadline_ms, repeated.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local result = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[1], id)
  local qty, deadline = string.match(record or '', '^H:(%d+):(%d+)$')
  if qty then
    table.insert(result, id)
    table.insert(result, tonumber(qty))
    table.insert(result, tonumber(deadline))
  end
end
return result
