-- update_tasks_paused_status: ARGV = base, paused ('1'/'0'), now, strict ('1'/'0'), then ids.
-- Strict: returns {0, first unknown id} and changes nothing. Otherwise
-- returns {1, ids found...} (unknown ids skipped).
if ARGV[4] == '1' then
  local missing = first_missing(5)
  if missing then return {0, missing} end
end
local found = {1}
for i = 5, #ARGV do
  if redis.call('EXISTS', task_key(ARGV[i])) == 1 then
    set_paused(ARGV[i], ARGV[2], ARGV[3])
    found[#found + 1] = ARGV[i]
  end
end
return found
