#!lua flags=allow-oom
-- fold: fold a page of one user's markers into the tombstone and delete them.
-- KEYS tomb, then markers (all {tenant:user}); ARGV tombstone ttl ms, then for each marker
-- its notification id ('' for a semantic-window marker). Returns the keys deleted.
local tomb, ttl = KEYS[1], tonumber(ARGV[1])
local deleted = 0
for i = 2, #KEYS do
  local id = ARGV[i]
  if id ~= '' and redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HSET', tomb, id, '1')
  end
  deleted = deleted + redis.call('DEL', KEYS[i])
end
if redis.call('EXISTS', tomb) == 1 then
  redis.call('PEXPIRE', tomb, ttl)
end
return deleted
