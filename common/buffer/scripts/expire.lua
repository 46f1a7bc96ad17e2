#!lua flags=allow-oom
-- expire: move some of one user's due notifications to the persist stream as `expired`.
-- KEYS pending, order ({tenant:user}), the persist stream (global)
-- ARGV pairs: id, expiresAt ms (the entry's t: two sweepers write identical entries)
-- Returns how many were still pending (and are now in the stream, out of the buffer).
-- Entries first, removals after, as in ack.lua.
local pending, order, stream = KEYS[1], KEYS[2], KEYS[3]
local found = {}
for i = 1, #ARGV, 2 do
  local body = redis.call('HGET', pending, ARGV[i])
  if body then
    redis.call('XADD', stream, '*', 'n', body, 's', 'expired', 't', ARGV[i + 1])
    found[#found + 1] = ARGV[i]
  end
end
for _, id in ipairs(found) do
  redis.call('HDEL', pending, id)
  redis.call('ZREM', order, id)
end
return #found
