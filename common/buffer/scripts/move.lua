#!lua flags=allow-oom
-- move: give some held notifications of one shard a new release time (a recipient's time
-- zone or quiet hours changed, or the release found them in quiet hours again).
-- KEYS the shard's held index; ARGV pairs: member, release ms
-- Returns how many were held (and now have the new release); others are skipped (gone).
-- A move of a notification being released (claimed) makes done.lua keep it: it is
-- released again at the new time, and its "already made" marker makes that a no-op.
-- Changes scores only, so allow-oom.
local index = KEYS[1]
local moved = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', index, ARGV[i]) then
    redis.call('ZADD', index, 'XX', ARGV[i + 1], ARGV[i])
    moved = moved + 1
  end
end
return moved
