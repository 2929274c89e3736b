-- acquire_tasks: ARGV = base, check ('1'/'0'), now, lease_until, limit, token
-- base, set-aside-until, worker id, then the callback names ('*' alone: every
-- callback).
-- Every score <= now is claimable (see score_of), so one range read per index
-- finds them: the schedule without a filter, else each callback's due index.
-- With check, returns -1 when the callback indexes miss tasks written by
-- another program (the caller adopts them and asks again); otherwise {id, token, fields}
-- per claim, and {id} per entry without a hash (moved to set-aside-until in
-- the schedule, never deleted).
local check = ARGV[2] == '1'
local now, lease, limit, token_base, aside = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local worker = ARGV[8]
local now_n, lease_n = tonumber(now), tonumber(lease)
local everything = ARGV[9] == '*'

local candidates = {}
if everything then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'LIMIT', 0, limit)) do
    candidates[#candidates + 1] = {id, 0, false}
  end
else
  if check and redis.call('ZCARD', queue) ~= redis.call('ZCARD', runs) then return -1 end
  for j = 9, #ARGV do
    local cb = ARGV[j]
    local found = redis.call('ZRANGEBYSCORE', due_key(cb), '-inf', now, 'WITHSCORES',
      'LIMIT', 0, limit)
    for k = 1, #found, 2 do
      candidates[#candidates + 1] = {found[k], tonumber(found[k + 1]), cb}
    end
  end
  -- One index is in order already (ties by member bytes, as bytes_less orders
  -- them); several are merged. Skipping the sort matters in a burst, where
  -- every score ties and each comparison walks the ids byte by byte.
  if #ARGV > 9 then
    table.sort(candidates, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      return bytes_less(a[1], b[1])
    end)
  end
end

local out = {}
local claimed = 0
for _, candidate in ipairs(candidates) do
  if claimed >= limit then break end
  local id, cb = candidate[1], candidate[3]
  local key = task_key(id)
  local f = redis.call('HMGET', key, 'paused', 'run_at', 'claim_token', 'lease_until',
    'failed_at', 'callback', 'group_id')
  -- Every field missing: most likely no hash at all (EXISTS tells that from an empty one).
  if not f[2] and not f[6] and redis.call('EXISTS', key) == 0 then
    if cb then redis.call('ZREM', due_key(cb), id) end
    if redis.call('ZSCORE', queue, id) then
      redis.call('ZADD', queue, aside, id)
      out[#out + 1] = {id}
    end
  else
    local run = finite(f[2])
    if f[1] == '1' or not empty(f[5]) or (run and run > now_n)
        or (is_claimed(f[3]) and (finite(f[4]) or 0) > now_n)
        or (cb and f[6] ~= cb) then
      -- A stale index entry (0.10 could leave a paused or re-timed task with
      -- the wrong score): put it right and leave the task alone.
      if cb and f[6] ~= cb then redis.call('ZREM', due_key(cb), id) end
      reindex(id, key)
    else
      claimed = claimed + 1
      local token = token_base .. '/' .. claimed
      redis.call('HSET', key, 'claim_token', token, 'lease_until', lease)
      redis.call('HSET', holders, id, worker)
      if cb then
        -- Found through its callback's index, so it was indexed by us: a claim moves
        -- only its score (to the lease end) and adds it to the claims index.
        f[3], f[4] = token, lease
        local score = score_of(f)
        redis.call('ZADD', queue, score, id)
        redis.call('ZADD', claims, run or 0, id)
        redis.call('ZADD', due_key(cb), score, id)
      else
        reindex(id, key)  -- may be a task another program wrote: every index put right
      end
      out[#out + 1] = {id, token, redis.call('HGETALL', key)}
    end
  end
end
return out
