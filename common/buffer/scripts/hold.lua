-- hold: keep one notification of a recipient in quiet hours until its release; idempotent.
-- KEYS the shard's held index (ZSET member -> release ms), the shard's held bodies (HASH
--   member -> entry JSON), the recipient's held set (SET of members), seen, tomb: all of the
--   recipient's shard, one slot (common/buffer/keys.py).
-- ARGV member (tenant|user|notification id), release ms, entry JSON, notification id,
--   accepted ms (the event's, compared with the erasure tombstone as buffer.lua does)
-- Returns 0 held already (the first hold's release stands), 1 held, 2 made already (its
--   "already made" marker exists: a redelivery after the release), 3 erased.
-- Grows memory, so no allow-oom: on a full Redis it fails before writing anything.
local index, bodies, mine, seen, tomb = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member, id = ARGV[1], ARGV[4]
if redis.call('HEXISTS', bodies, member) == 1 then
  return 0
end
if redis.call('EXISTS', seen) == 1 then
  return 2
end
local erased = redis.call('HGET', tomb, 'at')
if erased and (tonumber(erased) >= tonumber(ARGV[5]) or redis.call('HEXISTS', tomb, id) == 1) then
  return 3
end
redis.call('HSET', bodies, member, ARGV[3])
redis.call('ZADD', index, ARGV[2], member)
redis.call('SADD', mine, member)
return 1
