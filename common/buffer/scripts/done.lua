#!lua flags=allow-oom
-- done: forget some of one recipient's held notifications once they were made (released).
-- KEYS the shard's held index, the shard's held bodies, the recipient's held set (one slot)
-- ARGV pairs: member, the claim's end ms it was taken with (claim.lua)
-- Returns how many were forgotten. One whose score is no longer its claim's end was moved
-- meanwhile (rescheduled: move.lua) and stays held for its new release; one already gone
-- is skipped. Removes only, so allow-oom.
local index, bodies, mine = KEYS[1], KEYS[2], KEYS[3]
local gone = 0
for i = 1, #ARGV, 2 do
  local member = ARGV[i]
  local score = redis.call('ZSCORE', index, member)
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', index, member)
    redis.call('HDEL', bodies, member)
    redis.call('SREM', mine, member)
    gone = gone + 1
  end
end
return gone
