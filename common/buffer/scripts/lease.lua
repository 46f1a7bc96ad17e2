#!lua flags=allow-oom
-- lease: take or renew the sweeper's lease. KEYS[1] the lease; ARGV holder, ttl ms.
-- Returns 1 if the caller holds it now, 0 if another does.
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
