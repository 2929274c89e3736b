-- acquire_tasks: ARGV = base, now, lease_until, limit, token base, set-aside-until.
-- Every score <= now is claimable (see score_for), so one range read finds them.
-- Returns {id, token, hash fields} per claim, and {id} per schedule entry
-- without a hash (moved to set-aside-until, never deleted).
local now, lease, limit, token_base, aside = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local now_n, lease_n = tonumber(now), tonumber(lease)
local out = {}
local ids = redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'LIMIT', 0, limit)
for i, id in ipairs(ids) do
  local key = task_key(id)
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZADD', queue, aside, id)
    out[#out + 1] = {id}
  else
    local f = redis.call('HMGET', key, 'paused', 'run_at', 'claim_token', 'lease_until')
    local run = finite(f[2])
    if f[1] == '1' or (run and run > now_n)
        or (is_claimed(f[3]) and (finite(f[4]) or 0) > now_n) then
      -- A stale score (0.10 could leave a paused or re-timed task with the
      -- wrong one): put it right and leave the task alone.
      redis.call('ZADD', queue, score_for(key), id)
    else
      local token = token_base .. '/' .. i
      redis.call('HSET', key, 'claim_token', token, 'lease_until', lease)
      local score = lease_n
      if run and run > lease_n then score = run end
      redis.call('ZADD', queue, score, id)
      redis.call('ZADD', claims, run or 0, id)
      out[#out + 1] = {id, token, redis.call('HGETALL', key)}
    end
  end
end
return out
