-- replay: one page of one user's pending notifications, oldest first.
-- KEYS order, pending ({tenant:user}); ARGV start (rank), count
-- Returns a flat list id1, body1, id2, body2, ... (a body may be false: gone meanwhile);
-- fewer than count pairs means the end.
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
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
