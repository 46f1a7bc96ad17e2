-- fanout_page: record one page of a fan-out, once. KEYS[1] the fan-out hash; ARGV page
-- index, recipients, made, muted, held, duplicate, failed, last (1 or 0), now (ms).
-- Counts of a page already recorded (a redelivered chunk) are not added again. The last
-- page of a running fan-out ends it (state done, finishedAt). Returns the state.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
if redis.call('HSETNX', KEYS[1], 'p:' .. ARGV[1], 1) == 1 then
  redis.call('HINCRBY', KEYS[1], 'pages', 1)
  redis.call('HINCRBY', KEYS[1], 'recipients', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'made', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'muted', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'held', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'duplicate', ARGV[6])
  redis.call('HINCRBY', KEYS[1], 'failed', ARGV[7])
end
local state = redis.call('HGET', KEYS[1], 'state')
if ARGV[8] == '1' and state == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'finishedAt', ARGV[9])
  state = 'done'
end
return state
