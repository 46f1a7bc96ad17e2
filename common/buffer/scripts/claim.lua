#!lua flags=allow-oom
-- claim: take some due held notifications of one shard for release.
-- KEYS the shard's held index, the shard's held bodies (one slot); ARGV now ms, claim end ms,
--   then the members to take.
-- Returns a flat list member1, score1, body1, ... of the members still due (score <= now);
-- each one's score is now the claim's end, so no other releaser takes it until the claim
-- lapses (the releaser died or failed): then it is due again. Nothing leaves here: only
-- done.lua removes, after the notification was made. A member without a body (no script
-- leaves one) is dropped. Moves only, so allow-oom: it runs on a full Redis.
local index, bodies = KEYS[1], KEYS[2]
local now, until_ms = tonumber(ARGV[1]), ARGV[2]
local out = {}
for i = 3, #ARGV do
  local member = ARGV[i]
  local score = redis.call('ZSCORE', index, member)
  if score and tonumber(score) <= now then
    local body = redis.call('HGET', bodies, member)
    if body then
      redis.call('ZADD', index, 'XX', until_ms, member)
      out[#out + 1] = member
      out[#out + 1] = score
      out[#out + 1] = body
    else
      redis.call('ZREM', index, member)
    end
  end
end
return out
