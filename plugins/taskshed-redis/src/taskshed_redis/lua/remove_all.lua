-- remove_all_tasks: every task in the schedule or the claims index, with its
-- hash and group membership, then both sorted sets. Keys outside the schedule
-- (left by 0.10's non-atomic writes) are swept afterwards by sweep.lua.
for _, zset in ipairs({claims, queue}) do
  for _, id in ipairs(redis.call('ZRANGE', zset, 0, -1)) do remove_task(id) end
end
redis.call('DEL', queue, claims)
return 1
