-- digest: write one event into a digest of one recipient, if the digest is still as read.
-- KEYS seen (the event's own notification id), state (the digest), pending, order, tomb,
--   the persist stream (all of the recipient's shard)
-- ARGV mode ('open' | 'join' | 'repeat'), expected version ('0': no digest), expected last
--   event id, notification id, body, created ms, seen ttl ms, window ms, most pending per
--   user, live channel, accepted ms, actor, event id, new version, count, actors (JSON),
--   expires ms
-- Returns 0 duplicate (the event was made or joined before), 1 opened, 2 joined (the pending
--   body replaced in place), 3 joined (no longer pending: the update went to the persist
--   stream), 4 repeated (the actor is in the digest already: nothing changes), 5 erased,
--   6 opened over the cap (as buffer.lua's 5), -1 conflict (the digest is not as read:
--   read it again; nothing was written).
-- The check: the state's version and last event id are what the caller read (a version
-- alone could match a state another consumer wrote from a different base). An erasure
-- tombstone stops the write as it stops buffer.lua: the event accepted at or before the
-- erasure makes nothing, and a digest made at or before it is not joined (-1: the caller
-- reads the tombstone and opens a new one, 'open' over the dead state's version).
-- An update of a digest no longer pending goes to the stream as `expired` at its expiresAt
-- with `why` `digest`: the store's upsert keeps `acked` and takes the higher version's body.
local seen, state, pending, order, tomb, stream = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5],
  KEYS[6]
local mode, expected_v, expected_e = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local id, body, created = ARGV[4], ARGV[5], ARGV[6]
local seen_ms, window_ms, cap = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local channel, accepted, actor, event = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
if redis.call('EXISTS', seen) == 1 then
  return 0
end
local erased = redis.call('HGET', tomb, 'at')
if erased and tonumber(erased) >= tonumber(accepted) then
  return 5
end
local now = redis.call('HMGET', state, 'v', 'e', 'made')
if tonumber(now[1] or '0') ~= expected_v or (expected_v > 0 and now[2] ~= expected_e) then
  return -1
end
if mode == 'open' then
  if erased and redis.call('HEXISTS', tomb, id) == 1 then
    return 5
  end
  redis.call('DEL', state)
  redis.call('HSET', state, 'id', id, 'v', '1', 'e', event, 'made', created, 'body', body,
    'n', ARGV[15], 'actors', ARGV[16], 'a:' .. actor, accepted)
  redis.call('PEXPIRE', state, window_ms)
  redis.call('SET', seen, '1', 'PX', seen_ms)
  redis.call('HSET', pending, id, body)
  redis.call('ZADD', order, created, id)
  local over = redis.call('ZCARD', order) - cap
  if over <= 0 then
    redis.call('PUBLISH', channel, body)
    return 1
  end
  local oldest = redis.call('ZRANGE', order, 0, over - 1)
  local published = true
  for _, old in ipairs(oldest) do
    local old_body = redis.call('HGET', pending, old)
    if old_body then
      redis.call('XADD', stream, '*', 'n', old_body, 's', 'expired', 't', created, 'why', 'capped')
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
    redis.call('PUBLISH', channel, body)
  end
  return 6
end
if erased and now[3] and tonumber(erased) >= tonumber(now[3]) then
  return -1
end
redis.call('SET', seen, '1', 'PX', seen_ms)
if mode == 'repeat' then
  return 4
end
redis.call('HSET', state, 'v', ARGV[14], 'e', event, 'body', body, 'n', ARGV[15],
  'actors', ARGV[16], 'a:' .. actor, accepted)
if redis.call('HEXISTS', pending, id) == 1 then
  redis.call('HSET', pending, id, body)
  redis.call('PUBLISH', channel, body)
  return 2
end
redis.call('XADD', stream, '*', 'n', body, 's', 'expired', 't', ARGV[17], 'why', 'digest')
redis.call('PUBLISH', channel, body)
return 3
