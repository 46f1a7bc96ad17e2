-- buffer: make one notification for one recipient, all or nothing.
-- KEYS seen, pending, order, sem, tomb (all of the recipient's shard); KEYS[6] (optional) the
--   actor's rate-limit log, in the same shard: the gate (see below).
-- ARGV id, body, created ms, seen ttl ms, semantic window ms (0: none), keep-until ms,
--   live channel, accepted ms, [event id: the gate's member]
-- Returns 0 duplicate, 1 buffered, 2 semantic duplicate, 3 erased, 4 not admitted.
-- The gate: when the consumer sends the actor's admission (admit.lua) in the same pipeline,
-- this reads whether that event id is in the actor's log; absent means the event was limited
-- and nothing is made. It is passed only when the actor's log is in the recipient's shard,
-- so every key of the call is in one slot (common/buffer/inbox.py).
local seen, pending, order, sem, tomb = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, body, created_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local seen_ms, sem_ms, keep_until_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', seen) == 1 then
  return 0
end
if KEYS[6] and not redis.call('ZSCORE', KEYS[6], ARGV[9]) then
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
for _, key in ipairs({pending, order}) do
  local at = redis.call('PEXPIRETIME', key)
  if at < keep_until_ms then
    redis.call('PEXPIREAT', key, keep_until_ms)
  end
end
redis.call('PUBLISH', ARGV[7], body)
return 1
