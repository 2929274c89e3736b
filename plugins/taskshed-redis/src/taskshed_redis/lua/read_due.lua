-- fetch_due_tasks: ARGV = base, dt. Unclaimed due tasks are in the schedule at
-- run_at; claimed ones are in the claims index at run_at. Returns {id, fields}.
local seen, out = {}, {}
local function take(id)
  if not seen[id] then
    seen[id] = true
    out[#out + 1] = {id, redis.call('HGETALL', task_key(id))}
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', ARGV[2])) do take(id) end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', claims, '-inf', ARGV[2])) do take(id) end
return out
