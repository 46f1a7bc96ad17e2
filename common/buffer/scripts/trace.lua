-- trace: append stage marks (console's Trace page) to the lists of several events of one
-- trace group (one hash slot), each list bounded and expiring.
-- KEYS the events' trace lists. ARGV ttl ms, most marks kept per list, then for each key in
--   order: its number of marks n, then its n marks (JSON).
-- Returns the number of lists written.
local ttl, cap = ARGV[1], tonumber(ARGV[2])
local at = 3
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[at])
  if redis.call('RPUSH', key, unpack(ARGV, at + 1, at + n)) > cap then
    redis.call('LTRIM', key, 0, cap - 1)
  end
  redis.call('PEXPIRE', key, ttl)
  at = at + n + 1
end
return #KEYS
