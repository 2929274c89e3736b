-- Remove leftovers found by SCAN: ARGV = base, then keys of this base. A task
-- hash that is not in the schedule, and set members whose hash is gone or
-- names another group, are not tasks of this store and go. Each check and its
-- deletion happen together, so a task added meanwhile is never touched.
local task_head = base .. ':task:'
local group_head = base .. ':group:'
local tail = ':tasks'
for i = 2, #ARGV do
  local key = ARGV[i]
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' and key:sub(1, #task_head) == task_head and #key > #task_head then
    local id = key:sub(#task_head + 1)
    if not redis.call('ZSCORE', queue, id) then redis.call('DEL', key) end
  elseif kind == 'set' and key:sub(1, #group_head) == group_head
      and #key > #group_head + #tail and key:sub(-#tail) == tail then
    local gid = key:sub(#group_head + 1, #key - #tail)
    for _, id in ipairs(redis.call('SMEMBERS', key)) do
      if redis.call('HGET', task_key(id), 'group_id') ~= gid then redis.call('SREM', key, id) end
    end
  end
end
return 1
