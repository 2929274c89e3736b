-- fetch_tasks: ARGV = base, then ids. Returns {id, fields} for each id that exists.
local out = {}
for i = 2, #ARGV do
  local fields = redis.call('HGETALL', task_key(ARGV[i]))
  if #fields > 0 then out[#out + 1] = {ARGV[i], fields} end
end
return out
