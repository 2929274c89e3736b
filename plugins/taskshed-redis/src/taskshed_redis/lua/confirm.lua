-- confirm_claims: ARGV = base, lease_until, then id/token pairs. Extends the
-- lease of still-held claims whose task is neither paused nor failed.
local held = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = task_key(id)
  local f = redis.call('HMGET', key, 'claim_token', 'paused', 'failed_at')
  if is_claimed(token) and f[1] == token and f[2] ~= '1' and empty(f[3]) then
    redis.call('HSET', key, 'lease_until', ARGV[2])
    reindex(id, key)
    held[#held + 1] = id
  end
end
return held
