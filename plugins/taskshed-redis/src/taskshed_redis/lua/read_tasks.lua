-- fetch_tasks: ARGV = base, then ids. Returns {id, fields, holder} for each id that exists.
local out = {}
for i = 2, #ARGV do
  local row = task_row(ARGV[i], task_key(ARGV[i]))
  if row then out[#out + 1] = row end
end
return out
