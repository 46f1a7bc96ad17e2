#!lua flags=allow-oom
-- ack: acknowledge (or mark seen / read / archived) some of one user's pending notifications.
-- KEYS pending, order ({tenant:user}), the persist stream (global)
-- ARGV now ms, read ms, seen ms, archived ms ('' each unless marked so), then the ids
-- Returns the ids acked now (the others were not pending for this user).
-- For each id found: XADD an `acked` entry (with `r`, `v`, `a` for the states marked), and
-- only after every XADD, HDEL and ZREM them. An XADD that fails (say, out of memory) stops the
-- script before anything is removed, so a notification never leaves the buffer without its
-- entry in the stream.
local pending, order, stream = KEYS[1], KEYS[2], KEYS[3]
local now = ARGV[1]
local marks = {}
for i, field in ipairs({'r', 'v', 'a'}) do
  if ARGV[i + 1] ~= '' then
    marks[#marks + 1] = field
    marks[#marks + 1] = ARGV[i + 1]
  end
end
local found = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local body = redis.call('HGET', pending, id)
  if body then
    redis.call('XADD', stream, '*', 'n', body, 's', 'acked', 't', now, unpack(marks))
    found[#found + 1] = id
  end
end
for i = 1, #found, 500 do
  local chunk = {}
  for j = i, math.min(i + 499, #found) do
    chunk[#chunk + 1] = found[j]
  end
  redis.call('HDEL', pending, unpack(chunk))
  redis.call('ZREM', order, unpack(chunk))
end
return found
