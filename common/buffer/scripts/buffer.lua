-- buffer: make one notification for one recipient, all or nothing.
-- KEYS seen, pending, order, sem, tomb, the persist stream (all of the recipient's shard);
--   KEYS[7] (optional) the actor's rate-limit log, in the same shard: the gate (see below).
-- ARGV id, body, created ms, seen ttl ms, semantic window ms (0: none), most pending per user,
--   live channel, accepted ms, [event id: the gate's member]
-- Returns 0 duplicate, 1 buffered, 2 semantic duplicate, 3 erased, 4 not admitted,
--   5 buffered over the cap (see below).
-- The gate: when the consumer sends the actor's admission (admit.lua) in the same pipeline,
-- this reads whether that event id is in the actor's log; absent means the event was limited
-- and nothing is made. It is passed only when the actor's log is in the recipient's shard,
-- so every key of the call is in one slot (common/buffer/inbox.py).
-- The cap: a recipient holds at most that many pending notifications. Past it, the oldest
-- (by creation) leave the buffer as `expired` entries of the persist stream, with `why`
-- `capped` and `t` the new one's creation time, before anything is published: one user who
-- never connects cannot take everyone's room, and nothing leaves without its record.
-- The pending keys have no TTL of their own: a notification leaves the buffer only through
-- this cap, ack.lua, expire.lua or erase.lua, each of which leaves its record first.
local seen, pending, order, sem, tomb, stream = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5],
  KEYS[6]
local id, body, created_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local seen_ms, sem_ms, cap = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', seen) == 1 then
  return 0
end
if KEYS[7] and not redis.call('ZSCORE', KEYS[7], ARGV[9]) then
  return 4
end
local erased = redis.call('HGET', tomb, 'at')
if erased and (tonumber(erased) >= tonumber(ARGV[8]) or redis.call('HEXISTS', tomb, id) == 1) then
  return 3
end
if sem_ms > 0 and not redis.call('SET', sem, id, 'NX', 'PX', sem_ms) then
  return 2
end
redis.call('SET', seen, '1', 'PX', seen_ms)
redis.call('HSET', pending, id, body)
redis.call('ZADD', order, created_ms, id)
local over = redis.call('ZCARD', order) - cap
if over <= 0 then
  redis.call('PUBLISH', ARGV[7], body)
  return 1
end
local oldest = redis.call('ZRANGE', order, 0, over - 1)
local published = true
for _, old in ipairs(oldest) do
  local old_body = redis.call('HGET', pending, old)
  if old_body then
    redis.call('XADD', stream, '*', 'n', old_body, 's', 'expired', 't', ARGV[3], 'why', 'capped')
  end
  if old == id then
    published = false
  end
end
for _, old in ipairs(oldest) do
  redis.call('HDEL', pending, old)
  redis.call('ZREM', order, old)
end
if published then
  redis.call('PUBLISH', ARGV[7], body)
end
return 5
