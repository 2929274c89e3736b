-- remove_tasks: ARGV = base, then ids (unknown ids are ignored). Returns the ids deleted.
local removed = {}
for i = 2, #ARGV do
  if redis.call('EXISTS', task_key(ARGV[i])) == 1 then
    remove_task(ARGV[i])
    removed[#removed + 1] = ARGV[i]
  else
    -- an index entry without a hash (a crash of an older writer) goes too
    redis.call('ZREM', queue, ARGV[i])
    redis.call('ZREM', runs, ARGV[i])
    redis.call('ZREM', claims, ARGV[i])
  end
end
return removed
