-- update_execution_times: ARGV = base, then id/run_at pairs. Returns the first
-- unknown id (and changes nothing), or nil.
for i = 2, #ARGV, 2 do
  if redis.call('EXISTS', task_key(ARGV[i])) == 0 then return ARGV[i] end
end
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local key = task_key(id)
  redis.call('HSET', key, 'run_at', ARGV[i + 1])
  redis.call('HDEL', key, 'occurrence_at')
  drop_claim(id, key)
  reindex(id, key)
end
return nil
