-- take: charge an ingest API key's token bucket (producer/ingest/rate_limit.py has the same steps
-- in Python, unit-tested). KEYS[1] the bucket ({key id}); ARGV rate (tokens/s), burst, cost.
-- Returns {allowed 0/1, tokens left}. A new bucket starts full. The key expires once it would
-- be full again anyway (plus a second), so idle keys cost nothing. Tokens are returned as a
-- string: Redis truncates Lua numbers. Reads Redis's clock (TIME), so skewed replicas share
-- one timeline (Redis >= 5 replicates script effects, so a write after TIME is allowed).
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'us')
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil or last == nil then
  tokens = burst
  last = now
end
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000000)
local allowed = 0
if cost <= tokens then
  tokens = tokens - cost
  allowed = 1
end
local text = string.format('%.17g', tokens)
redis.call('HSET', KEYS[1], 'tokens', text, 'us', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, text}
