-- fanout_claim: take the right to publish one chunk of a fan-out. KEYS[1] the chunk's
-- marker; ARGV lease (ms). Returns 1: the caller holds it now (publish, then fanout_done);
-- 0: published already (never again); -1: another holder publishes it now (its lease runs).
local marker = redis.call('GET', KEYS[1])
if marker == false then
  redis.call('SET', KEYS[1], 'pending', 'PX', ARGV[1])
  return 1
end
if marker == 'done' then
  return 0
end
return -1
