-- update_group_paused_status: ARGV = base, group id, paused ('1'/'0'), now.
-- A set member whose hash names another group (or is gone) is dropped from the set.
local gid = ARGV[2]
local gkey = group_key(gid)
for _, id in ipairs(redis.call('SMEMBERS', gkey)) do
  if redis.call('HGET', task_key(id), 'group_id') == gid then
    set_paused(id, ARGV[3], ARGV[4])
  else
    redis.call('SREM', gkey, id)
  end
end
return 1
