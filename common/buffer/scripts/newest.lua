-- newest: one user's pending notifications created at or before a time, newest first
-- (ties by id, descending), for the read API's history.
-- KEYS order, pending ({tenant:user}); ARGV top score (ms or '+inf'), count
-- Returns a flat list id1, body1, ... (bodies false when gone meanwhile).
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, ARGV[2])
if #ids == 0 then
  return {}
end
local bodies = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = bodies[i]
end
return out
