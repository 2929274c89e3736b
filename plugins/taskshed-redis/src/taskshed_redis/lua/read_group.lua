-- fetch_group_tasks: ARGV = base, group id. Returns {id, fields} per member that exists.
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', group_key(ARGV[2]))) do
  local fields = redis.call('HGETALL', task_key(id))
  if #fields > 0 then out[#out + 1] = {id, fields} end
end
return out
