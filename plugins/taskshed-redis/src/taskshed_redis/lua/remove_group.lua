-- remove_group_tasks, one batch: ARGV = base, group id, then member ids.
-- Deletes the members whose hash names this group and drops the others from
-- the set. Returns the ids deleted.
local gid = ARGV[2]
local gkey = group_key(gid)
local removed = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', task_key(id), 'group_id') == gid then
    remove_task(id)
    removed[#removed + 1] = id
  else
    redis.call('SREM', gkey, id)
  end
end
return removed
