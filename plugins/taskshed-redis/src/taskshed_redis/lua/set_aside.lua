-- Hold claimed records that can't be decoded until ARGV[2]; ARGV = base, until, then id/token pairs.
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = task_key(id)
  if redis.call('HGET', key, 'claim_token') == token then
    redis.call('HSET', key, 'lease_until', ARGV[2])
    reindex(id, key)
  end
end
return 1
