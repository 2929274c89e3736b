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

for _, step in ipairs(plan) do
  local fields, id, key, existed = step[1], step[2], step[3], step[4]
  -- The replacement is a new task: the old hash goes whole, claim, run state
  -- and index entries included. A new id has no hash to read or delete, and
  -- reindex below sets or clears every index entry an id can have.
  if existed then
    unindex(id, key)
    redis.call('DEL', key)
  end
  redis.call('HSET', key, unpack(fields))
  reindex(id, key)
end
return #plan
