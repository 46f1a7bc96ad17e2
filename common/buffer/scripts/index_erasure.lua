#!lua flags=allow-oom
-- index_erasure: note a user's erasure in the persisters' index, before anything else of the
-- erasure (common/buffer/erasure.py). Runs on a full Redis (allow-oom): the erasure it opens
-- frees far more than this member takes.
-- KEYS[1] the erasure index (global); ARGV member, at ms, lifetime ms.
-- Keeps the later time of a repeat, drops members older than a lifetime, and expires the
-- index a lifetime after its last write. Returns nothing.
local index, member, at, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZADD', index, 'GT', at, member)
redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. (at - ttl))
redis.call('PEXPIRE', index, ttl)
