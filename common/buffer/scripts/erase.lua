#!lua flags=allow-oom
-- erase: delete one user's pending notifications, actor window and inbox seq, and write the
-- tombstone.
-- KEYS pending, order, tomb, window, inboxseq (all {tenant:user}); ARGV at ms, tombstone ttl ms
-- Returns the ids that were pending (now fields of the tombstone).
local pending, order, tomb, window, inboxseq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local at, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = redis.call('HKEYS', pending)
local before = redis.call('HGET', tomb, 'at')
if not before or tonumber(before) < at then
  redis.call('HSET', tomb, 'at', ARGV[1])
end
for i = 1, #ids, 500 do
  local args = {}
  for j = i, math.min(i + 499, #ids) do
    args[#args + 1] = ids[j]
    args[#args + 1] = '1'
  end
  redis.call('HSET', tomb, unpack(args))
end
redis.call('DEL', pending, order, window, inboxseq)
redis.call('PEXPIRE', tomb, ttl)
return ids
