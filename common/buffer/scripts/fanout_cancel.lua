-- fanout_cancel: cancel a running fan-out. KEYS[1] the fan-out hash; ARGV now (ms).
-- Returns the state after the call (cancelled, or done / cancelled as it was), or nil when
-- there is no such fan-out.
local state = redis.call('HGET', KEYS[1], 'state')
if state == false then
  return false
end
if state == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[1])
  return 'cancelled'
end
return state
