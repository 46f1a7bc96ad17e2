-- fanout_begin: record a topic event's fan-out, once. KEYS[1] the fan-out hash; ARGV now
-- (ms), topic, the event JSON, ttl (ms). A fan-out already recorded (a redelivered event)
-- keeps its own start: the snapshot rule reads startedAt, which must never move.
-- Returns the hash as a flat list (HGETALL) without the page fields.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'running', 'startedAt', ARGV[1], 'topic', ARGV[2],
             'event', ARGV[3], 'pages', 0, 'recipients', 0, 'made', 0, 'muted', 0,
             'held', 0, 'duplicate', 0, 'failed', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return redis.call('HMGET', KEYS[1], 'state', 'startedAt')
