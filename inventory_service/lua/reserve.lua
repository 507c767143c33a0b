-- Take a hold of ARGV[2] tickets for reservation id ARGV[1].
-- KEYS: 1 stock hash (total, available, held), 2 holds hash, 3 expiry zset.
-- ARGV: 1 reservation id, 2 quantity, 3 hold lifetime in milliseconds.
-- Returns {status, available, deadline_ms, now_ms}; status codes match ReserveStatus:
-- 1 reserved, 2 sold out, 3 stock missing, 4 already released, 5 confirmed.
-- A hold is stored as "H:<qty>:<deadline_ms>", "C:<qty>" or "R:<qty>".
local record = redis.call('HGET', KEYS[2], ARGV[1])
local available = redis.call('HGET', KEYS[1], 'available')
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

if record then
  local state, qty, deadline = string.match(record, '^(%a):(%d+):?(%d*)$')
  if tonumber(qty) ~= tonumber(ARGV[2]) and state ~= 'R' then
    return redis.error_reply('CONFLICT reservation id already holds ' .. qty .. ' tickets')
  end
  local current = tonumber(available or '0')
  if state == 'H' then
    return {1, current, tonumber(deadline), now}
  elseif state == 'C' then
    return {5, current, 0, now}
  end
  return {4, current, 0, now}
end

if not available then
  return {3, 0, 0, now}
end

available = tonumber(available)
local qty = tonumber(ARGV[2])
if available < qty then
  return {2, available, 0, now}
end

local deadline = now + tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], 'available', -qty)
redis.call('HINCRBY', KEYS[1], 'held', qty)
redis.call('HSET', KEYS[2], ARGV[1], 'H:' .. qty .. ':' .. deadline)
redis.call('ZADD', KEYS[3], deadline, ARGV[1])
return {1, available - qty, deadline, now}
