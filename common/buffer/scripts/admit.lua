-- admit: the consumer's sliding-window rate limit of one actor.
-- KEYS[1] the actor's log (ZSET eventId -> admitted at, ms; tag {tenant:actor})
-- ARGV eventId, limit, window ms. Returns 1 admitted, 0 limited.
-- Admitting the same eventId twice counts once (a redelivered event is never throttled by
-- its own earlier attempt); entries older than the window are pruned by their timestamp.
local key, event_id = KEYS[1], ARGV[1]
local limit, window_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
if redis.call('ZSCORE', key, event_id) then
  return 1
end
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, event_id)
  redis.call('PEXPIRE', key, window_ms)
  return 1
end
return 0
