-- Set an event's stock counter from PostgreSQL's figures, keeping open holds.
-- KEYS: 1 stock hash, 2 holds hash, 3 expiry zset.
-- ARGV: 1 deadline in Unix ms on Redis' clock, 2 total tickets, 3 tickets
-- sold (confirmed bookings in PostgreSQL), 4 number n of committed
-- reservation ids that follow, 5 .. 4+n reservation ids whose booking has
-- committed in PostgreSQL, then pairs of (reservation id, quantity) of
-- cancelled bookings whose hold record was "C" or missing when the caller
-- read it.
--
-- The caller holds the event row lock in PostgreSQL until the deadline has
-- passed or this script has replied, so no booking or cancel of the event
-- commits between the caller's reads and this script, and the sold count
-- stays true while it runs. Past the deadline the script changes nothing, because the
-- lock may be gone.
-- Returns {-1} when the deadline has passed. Otherwise returns {stock
-- existed (0/1), total before, available before, held before, available
-- after, held after, holds marked confirmed, records marked released,
-- expiry members removed}. The before values are 0 when the stock hash did
-- not exist.
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(ARGV[1]) then
  return {-1}
end

local total = tonumber(ARGV[2])
local sold = tonumber(ARGV[3])
local committed_count = tonumber(ARGV[4])

local committed = {}
for i = 5, 4 + committed_count do
  committed[ARGV[i]] = true
end

local before = redis.call('HMGET', KEYS[1], 'total', 'available', 'held')
local existed = before[1] and 1 or 0

-- A cancel has committed but its Release has not arrived (or failed). Its
-- tickets are no longer in `sold`, so the formula below counts them as
-- available. The "R" record turns that late Release into a no-op, which
-- would otherwise add the tickets a second time.
local marked_released = 0
for i = 5 + committed_count, #ARGV, 2 do
  local record = redis.call('HGET', KEYS[2], ARGV[i])
  if not record or string.sub(record, 1, 1) == 'C' then
    redis.call('HSET', KEYS[2], ARGV[i], 'R:' .. ARGV[i + 1])
    marked_released = marked_released + 1
  end
end

-- Open holds stay held, since they may still commit or be released, except
-- those whose booking has committed, because `sold` counts them already.
-- They are marked confirmed so that their late Confirm changes nothing.
-- NOTE: an "H" record whose id is missing from the expiry set is not seen
-- here, so its tickets end up counted as available.
local held = 0
local marked_confirmed = 0
local removed = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local qty = string.match(redis.call('HGET', KEYS[2], id) or '', '^H:(%d+):')
  if not qty then
    -- The member is not an open hold, so it does not belong in the set.
    redis.call('ZREM', KEYS[3], id)
    removed = removed + 1
  elseif committed[id] then
    redis.call('HSET', KEYS[2], id, 'C:' .. qty)
    redis.call('ZREM', KEYS[3], id)
    marked_confirmed = marked_confirmed + 1
  else
    held = held + tonumber(qty)
  end
end

-- Available is negative when open holds exceed what PostgreSQL has left
-- (Redis had too many tickets when they were taken) or when PostgreSQL sold
-- more than the total. Reserve returns sold out either way. In the first
-- case the count returns to 0 as those holds fail in PostgreSQL and are
-- released, which a clamp to 0 here would turn into invented tickets.
local available = total - sold - held
redis.call('HSET', KEYS[1], 'total', total, 'available', available, 'held', held)
return {
  existed,
  tonumber(before[1] or '0'), tonumber(before[2] or '0'), tonumber(before[3] or '0'),
  available, held, marked_confirmed, marked_released, removed,
}
