-- update_group_paused_status, one batch: ARGV = base, group id, paused ('1'/'0'),
-- now, then member ids. A member whose hash names another group (or is gone)
-- is dropped from the set. Returns the ids that are in the group.
local gid = ARGV[2]
local gkey = group_key(gid)
local members = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', task_key(id), 'group_id') == gid then
    set_paused(id, ARGV[3], ARGV[4])
    members[#members + 1] = id
  else
    redis.call('SREM', gkey, id)
  end
end
return members
