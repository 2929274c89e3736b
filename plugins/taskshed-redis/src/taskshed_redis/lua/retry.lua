-- retry_tasks: ARGV = base, run_at, then ids. Failed tasks are due at run_at
-- again with no attempts; last_error is kept. Returns the ids re-queued.
local retried = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = task_key(id)
  if not empty(redis.call('HGET', key, 'failed_at')) then
    redis.call('HDEL', key, 'failed_at', 'attempts', 'occurrence_at')
    redis.call('HSET', key, 'run_at', ARGV[2])
    drop_claim(id, key)
    reindex(id, key)
    retried[#retried + 1] = id
  end
end
return retried
