-- add_tasks: ARGV = base, replace ('1'/'0'), then per task the ten 0.10 fields
-- in order (task_id first, group_id eighth) followed by its schedule score.
local names = {'task_id', 'run_at', 'paused', 'callback', 'kwargs', 'run_type',
               'interval', 'group_id', 'coalesce', 'paused_at'}
local width = #names + 1
local replace = ARGV[2] == '1'

-- Read everything first: a key of the wrong type fails here, before any write.
local plan = {}
for i = 3, #ARGV, width do
  local key = task_key(ARGV[i])
  local old_gid = false
  local exists = redis.call('EXISTS', key) == 1
  if exists then old_gid = redis.call('HGET', key, 'group_id') end
  if replace or not exists then
    table.insert(plan, {i, key, old_gid})
  end
end

for _, step in ipairs(plan) do
  local i, key, old_gid = step[1], step[2], step[3]
  local id, gid = ARGV[i], ARGV[i + 7]
  if old_gid and old_gid ~= '' and old_gid ~= gid then
    redis.call('SREM', group_key(old_gid), id)
  end
  -- The replacement is a new task: the old hash goes whole, claim included.
  redis.call('DEL', key)
  local fields = {}
  for j, name in ipairs(names) do
    fields[#fields + 1] = name
    fields[#fields + 1] = ARGV[i + j - 1]
  end
  redis.call('HSET', key, unpack(fields))
  redis.call('ZADD', queue, ARGV[i + width - 1], id)
  redis.call('ZREM', claims, id)
  if gid ~= '' then redis.call('SADD', group_key(gid), id) end
end
return #plan
