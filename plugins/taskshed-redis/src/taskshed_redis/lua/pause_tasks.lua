-- update_tasks_paused_status: ARGV = base, paused ('1'/'0'), now, then ids.
-- Returns the first unknown id (and changes nothing), or nil.
local missing = first_missing(4)
if missing then return missing end
for i = 4, #ARGV do set_paused(ARGV[i], ARGV[2], ARGV[3]) end
return nil
