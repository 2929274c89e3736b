-- fetch_due_tasks: ARGV = base, dt. Unclaimed due tasks are in the schedule at
-- run_at; claimed ones are in the claims index at run_at. Returns {id, fields, holder}.
local seen, out = {}, {}
local function take(id)
  if not seen[id] then
    seen[id] = true
    local row = task_row(id, task_key(id))
    if row then out[#out + 1] = row end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', ARGV[2])) do take(id) end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', claims, '-inf', ARGV[2])) do take(id) end
return out
