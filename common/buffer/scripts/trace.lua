-- trace: append one event's stage marks (console's Trace page), bounded and expiring.
-- KEYS the event's trace list. ARGV ttl ms, most marks kept, mark JSON...
-- Returns the list's length before trimming.
local cap = tonumber(ARGV[2])
local length = redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
if length > cap then
  redis.call('LTRIM', KEYS[1], 0, cap - 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return length
