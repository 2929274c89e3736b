-- remove_group_tasks: ARGV = base, group id. Deletes the tasks whose hash
-- names this group, then the set (stale members included).
local gid = ARGV[2]
local gkey = group_key(gid)
for _, id in ipairs(redis.call('SMEMBERS', gkey)) do
  if redis.call('HGET', task_key(id), 'group_id') == gid then remove_task(id) end
end
redis.call('DEL', gkey)
return 1
