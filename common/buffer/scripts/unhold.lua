#!lua flags=allow-oom
-- unhold: forget every held notification of one recipient (erasure).
-- KEYS the shard's held index, the shard's held bodies, the recipient's held set (one slot)
-- Returns how many were held. Removes only, so allow-oom.
local index, bodies, mine = KEYS[1], KEYS[2], KEYS[3]
local members = redis.call('SMEMBERS', mine)
for i = 1, #members, 500 do
  local chunk = {}
  for j = i, math.min(i + 499, #members) do
    chunk[#chunk + 1] = members[j]
  end
  redis.call('ZREM', index, unpack(chunk))
  redis.call('HDEL', bodies, unpack(chunk))
end
redis.call('DEL', mine)
return #members
