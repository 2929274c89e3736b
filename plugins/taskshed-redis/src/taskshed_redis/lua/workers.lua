-- The worker registry: ARGV = base, action, ...
--   register: worker id, expires_at, record   -> 1
--   remove:   worker id                       -> 1
--   fetch:    now -> the records of workers whose registration has not
--             expired (expired ones are deleted)
local records = base .. ':workers'
local expiry = base .. ':worker_expiry'
local action = ARGV[2]
if action == 'register' then
  redis.call('HSET', records, ARGV[3], ARGV[5])
  redis.call('ZADD', expiry, ARGV[4], ARGV[3])
  return 1
elseif action == 'remove' then
  redis.call('HDEL', records, ARGV[3])
  redis.call('ZREM', expiry, ARGV[3])
  return 1
end
local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', ARGV[3])
for _, id in ipairs(expired) do
  redis.call('HDEL', records, id)
  redis.call('ZREM', expiry, id)
end
local live = redis.call('ZRANGE', expiry, 0, -1)
if #live == 0 then return {} end
local out = {}
local values = redis.call('HMGET', records, unpack(live))
for i, id in ipairs(live) do
  if values[i] then out[#out + 1] = values[i] end
end
return out
