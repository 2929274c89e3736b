-- Bring ids into our indexes that another program (TaskShed 0.10, a hand
-- edit) wrote or removed: ARGV = base, then ids seen in the schedule or in
-- the run index. A task with a hash gets every index entry its fields call
-- for; a schedule entry without a hash is kept (claims set it aside) and
-- mirrored in the run index; an index entry whose task is gone everywhere goes.
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = task_key(id)
  local in_queue = redis.call('ZSCORE', queue, id)
  local in_runs = redis.call('ZSCORE', runs, id)
  if redis.call('EXISTS', key) == 1 then
    if not in_queue or not in_runs then reindex(id, key) end
  elseif in_queue then
    if not in_runs then redis.call('ZADD', runs, finite(in_queue) or 0, id) end
  elseif in_runs then
    redis.call('ZREM', runs, id)
    redis.call('ZREM', claims, id)
    redis.call('ZREM', failed_set, id)
    redis.call('ZREM', paused_set, id)
    redis.call('HDEL', holders, id)
  end
end
return 1
