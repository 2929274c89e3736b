-- add_tasks: ARGV = base, replace ('1'/'0'), then one argument per task: a JSON
-- array of strings, its field/value pairs, task_id first (0.10's ten fields,
-- then whichever new fields the task has).
local replace = ARGV[2] == '1'

-- Read everything first: a key of the wrong type fails here, before any write.
local plan = {}
for i = 3, #ARGV do
  local fields = cjson.decode(ARGV[i])
  local id = fields[2]
  local key = task_key(id)
  local exists = redis.call('EXISTS', key) == 1
  if exists then redis.call('HGET', key, 'group_id') end
  if replace or not exists then
    table.insert(plan, {fields, id, key, exists})
  end
end

-- A new task that is neither paused nor failed (the common case) is indexed
-- from its own fields, with every index written once for the whole batch
-- instead of some ten calls per task: the same entries as reindex() writes.
-- Its fixed places: run_at at 4, paused at 6, callback at 8, group_id at 16;
-- the new fields follow from 21 on.
local function plain(fields)
  if fields[6] == '1' then return false end
  for j = 21, #fields, 2 do
    if fields[j] == 'failed_at' and not empty(fields[j + 1]) then return false end
  end
  return true
end

local scored, members = {}, {}
local due_of, runs_of, group_of = {}, {}, {}
local function push(map, name, ...)
  local list = map[name]
  if not list then list = {}; map[name] = list end
  for _, value in ipairs({...}) do list[#list + 1] = value end
end

for _, step in ipairs(plan) do
  local fields, id, key, existed = step[1], step[2], step[3], step[4]
  -- The replacement is a new task: the old hash goes whole, claim, run state
  -- and index entries included. A new id has no hash to read or delete, and
  -- the index writes below set or clear every index entry an id can have.
  if existed then
    unindex(id, key)
    redis.call('DEL', key)
  end
  redis.call('HSET', key, unpack(fields))
  if existed or not plain(fields) then
    reindex(id, key)
  else
    local run = finite(fields[4]) or 0
    scored[#scored + 1] = run
    scored[#scored + 1] = id
    members[#members + 1] = id
    if not empty(fields[8]) then
      push(due_of, fields[8], run, id)
      push(runs_of, fields[8], run, id)
    end
    if not empty(fields[16]) then push(group_of, fields[16], id) end
  end
end

-- In slices: unpack() has a limit on how many values it hands to one call.
local function each_slice(command, key, values, width)
  local step = 1000 * width
  for first = 1, #values, step do
    redis.call(command, key, unpack(values, first, math.min(first + step - 1, #values)))
  end
end

if #members > 0 then
  each_slice('ZADD', queue, scored, 2)
  each_slice('ZADD', runs, scored, 2)
  -- A new id has no claim, isn't failed or paused: clear any entry left under it
  -- (by a 0.10 process that removed a task of ours, say), as reindex() would.
  each_slice('ZREM', claims, members, 1)
  each_slice('HDEL', holders, members, 1)
  each_slice('ZREM', failed_set, members, 1)
  each_slice('ZREM', paused_set, members, 1)
  for name, values in pairs(due_of) do each_slice('ZADD', due_key(name), values, 2) end
  for name, values in pairs(runs_of) do each_slice('ZADD', cb_runs_key(name), values, 2) end
  for gid, values in pairs(group_of) do each_slice('SADD', group_key(gid), values, 1) end
end
return #plan
