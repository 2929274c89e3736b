-- Remove leftovers found by SCAN: ARGV = base, then keys of this base. A task
-- hash that is not in the schedule, set members whose hash is gone or names
-- another group, and callback index members whose hash is gone or names
-- another callback are not tasks of this store and go. Each check and its
-- deletion happen together, so a task added meanwhile is never touched.
-- Sets and sorted sets of more than 500 members are not read here (that would
-- hold the server up): their names are returned for prune.lua to go through
-- in batches.
local task_head = base .. ':task:'
local group_head = base .. ':group:'
local cb_head = base .. ':callback:'
local tail = ':tasks'
local big = {}
local function starts(key, head) return key:sub(1, #head) == head and #key > #head end
for i = 2, #ARGV do
  local key = ARGV[i]
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' and starts(key, task_head) then
    local id = key:sub(#task_head + 1)
    if not redis.call('ZSCORE', queue, id) then
      redis.call('UNLINK', key)
      redis.call('HDEL', holders, id)
    end
  elseif kind == 'set' and starts(key, group_head) then
    if redis.call('SCARD', key) > 500 then
      big[#big + 1] = key
    else
      prune(key, redis.call('SMEMBERS', key))
    end
  elseif kind == 'zset' and starts(key, cb_head) then
    if redis.call('ZCARD', key) > 500 then
      big[#big + 1] = key
    else
      prune(key, redis.call('ZRANGE', key, 0, -1))
    end
  end
end
return big
