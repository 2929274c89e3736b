-- extend_leases: ARGV = base, lease_until, then id/token pairs.
local held = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = task_key(id)
  if is_claimed(token) and redis.call('HGET', key, 'claim_token') == token then
    redis.call('HSET', key, 'lease_until', ARGV[2])
    reindex(id, key)
    held[#held + 1] = id
  end
end
return held
