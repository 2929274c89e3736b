-- complete_tasks: ARGV = base, then id/token/next_run_at triples ('' = delete).
-- Only a completion whose token is still the task's current one changes anything.
local done = {}
for i = 2, #ARGV, 3 do
  local id, token, next_run = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = task_key(id)
  if redis.call('HGET', key, 'claim_token') == token then
    if next_run == '' then
      remove_task(id)
    else
      redis.call('HSET', key, 'run_at', next_run)
      drop_claim(id, key)
      redis.call('ZADD', queue, score_for(key), id)
    end
    done[#done + 1] = id
  end
end
return done
