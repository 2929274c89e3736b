-- fetch_next_wakeup with a callback filter: ARGV = base, check ('1'/'0'),
-- then callback names. Returns the earliest score of their due indexes
-- (text), '' when they are empty, or (with check) -1 when the indexes miss
-- tasks written by another program.
if ARGV[2] == '1' and redis.call('ZCARD', queue) ~= redis.call('ZCARD', runs) then return -1 end
local best, best_n = '', nil
for j = 3, #ARGV do
  local head = redis.call('ZRANGE', due_key(ARGV[j]), 0, 0, 'WITHSCORES')
  if #head > 0 then
    local n = tonumber(head[2])
    if best_n == nil or n < best_n then best, best_n = head[2], n end
  end
end
return best
