#!lua flags=allow-oom
-- release: give the sweeper's lease back, if the caller holds it. KEYS[1]; ARGV holder.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
