-- complete_tasks: ARGV = base, then per completion 9 strings: id, token,
-- outcome ('remove', 'failed' or 'next'), next run_at, attempts, last_error,
-- last_run_at, failed_at, occurrence_at ('' = none).
-- Only a completion whose token is still the task's current one changes anything.
local done = {}
local function put(key, field, value)
  if value == '' or value == '0' and field == 'attempts' then
    redis.call('HDEL', key, field)
  else
    redis.call('HSET', key, field, value)
  end
end
for i = 2, #ARGV, 9 do
  local id, token, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = task_key(id)
  if is_claimed(token) and redis.call('HGET', key, 'claim_token') == token then
    if outcome == 'remove' then
      remove_task(id)
    else
      put(key, 'attempts', ARGV[i + 4])
      put(key, 'last_error', ARGV[i + 5])
      put(key, 'last_run_at', ARGV[i + 6])
      if outcome == 'failed' then
        put(key, 'failed_at', ARGV[i + 7])
      else
        redis.call('HSET', key, 'run_at', ARGV[i + 3])
        put(key, 'occurrence_at', ARGV[i + 8])
      end
      drop_claim(id, key)
      reindex(id, key)
    end
    done[#done + 1] = id
  end
end
return done
