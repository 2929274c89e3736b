-- complete_tasks: ARGV = base, then a JSON array with one array of 9 strings
-- per completion: id, token, outcome ('remove', 'failed' or 'next'), next
-- run_at, attempts, last_error, last_run_at, failed_at, occurrence_at ('' = none).
-- Only a completion whose token is still the task's current one changes anything.
local done = {}
local function put(key, field, value)
  if value == '' or value == '0' and field == 'attempts' then
    redis.call('HDEL', key, field)
  else
    redis.call('HSET', key, field, value)
  end
end
for _, row in ipairs(cjson.decode(ARGV[2])) do
  local id, token, outcome = row[1], row[2], row[3]
  local key = task_key(id)
  if is_claimed(token) and redis.call('HGET', key, 'claim_token') == token then
    if outcome == 'remove' then
      remove_task(id)
    else
      put(key, 'attempts', row[5])
      put(key, 'last_error', row[6])
      put(key, 'last_run_at', row[7])
      if outcome == 'failed' then
        put(key, 'failed_at', row[8])
      else
        redis.call('HSET', key, 'run_at', row[4])
        put(key, 'occurrence_at', row[9])
      end
      drop_claim(id, key)
      reindex(id, key)
    end
    done[#done + 1] = id
  end
end
return done
