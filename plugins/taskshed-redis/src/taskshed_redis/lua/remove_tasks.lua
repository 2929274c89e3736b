-- remove_tasks: ARGV = base, then ids (unknown ids are ignored).
for i = 2, #ARGV do remove_task(ARGV[i]) end
return 1
