-- release_tasks: ARGV = base, then id/token pairs; released tasks are claimable at once.
local released = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = task_key(id)
  if is_claimed(token) and redis.call('HGET', key, 'claim_token') == token then
    drop_claim(id, key)
    reindex(id, key)
    released[#released + 1] = id
  end
end
return released
