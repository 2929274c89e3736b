-- Shared by every script. KEYS[1] is the schedule (sorted set), KEYS[2] the
-- claims index (sorted set); ARGV[1] is the key base that every other key is
-- built on. All keys of one store share the base, so with a Cluster hash tag
-- they share one slot and the keys built here are local to the node.
local queue = KEYS[1]
local claims = KEYS[2]
local base = ARGV[1]
-- Indexes of ours (0.10 has none of them): every task by run_at, the failed
-- and the paused ones by run_at, and who holds each claim.
local runs = base .. ':runs'
local failed_set = base .. ':failed'
local paused_set = base .. ':paused'
local holders = base .. ':holders'

local function task_key(id) return base .. ':task:' .. id end
local function group_key(gid) return base .. ':group:' .. gid .. ':tasks' end
-- Per callback: its claimable tasks by the time they can next be claimed,
-- and all its tasks by run_at.
local function due_key(cb) return base .. ':callback:' .. cb .. ':due' end
local function cb_runs_key(cb) return base .. ':callback:' .. cb .. ':runs' end

local function empty(s) return (not s) or s == '' end

-- A stored time as a number, or nil when the text is not a finite number.
-- Scripts never let a malformed field reach ZADD: an error half-way through a
-- script would leave the writes made before it in place.
local function finite(s)
  if type(s) ~= 'string' then return nil end
  local n = tonumber(s)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end

local function is_claimed(token)
  return token and token ~= ''
end

-- Byte order of two strings (Lua's own comparison follows the server's locale).
local function bytes_less(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The score a task should have in the schedule: +inf while paused (as 0.10
-- wrote it) or failed, else run_at, pushed to the end of the lease while
-- claimed, so that every score <= now is a claimable task. A run_at that is
-- not a number scores 0: the next claim sees the record and sets it aside.
local function score_of(f)
  -- f = paused, run_at, claim_token, lease_until, failed_at
  if f[1] == '1' or not empty(f[5]) then return '+inf' end
  local run = finite(f[2]) or 0
  if is_claimed(f[3]) then
    local lease = finite(f[4])
    if lease and lease > run then return lease end
  end
  return run
end

local function score_for(key)
  return score_of(redis.call('HMGET', key, 'paused', 'run_at', 'claim_token', 'lease_until',
    'failed_at'))
end

-- Put every index entry of an existing task right from its hash.
local function reindex(id, key)
  local f = redis.call('HMGET', key, 'paused', 'run_at', 'claim_token', 'lease_until',
    'failed_at', 'callback', 'group_id')
  local score = score_of(f)
  local run = finite(f[2]) or 0
  local failed = not empty(f[5])
  redis.call('ZADD', queue, score, id)
  redis.call('ZADD', runs, run, id)
  if is_claimed(f[3]) then
    redis.call('ZADD', claims, run, id)
  else
    redis.call('ZREM', claims, id)
    redis.call('HDEL', holders, id)
  end
  if failed then redis.call('ZADD', failed_set, run, id) else redis.call('ZREM', failed_set, id) end
  if f[1] == '1' and not failed then
    redis.call('ZADD', paused_set, run, id)
  else
    redis.call('ZREM', paused_set, id)
  end
  if not empty(f[6]) then
    if score == '+inf' then
      redis.call('ZREM', due_key(f[6]), id)
    else
      redis.call('ZADD', due_key(f[6]), score, id)
    end
    redis.call('ZADD', cb_runs_key(f[6]), run, id)
  end
  if not empty(f[7]) then redis.call('SADD', group_key(f[7]), id) end
end

-- Take a task out of every index (its hash is left to the caller).
local function unindex(id, key)
  local f = redis.call('HMGET', key, 'callback', 'group_id')
  redis.call('ZREM', queue, id)
  redis.call('ZREM', runs, id)
  redis.call('ZREM', claims, id)
  redis.call('ZREM', failed_set, id)
  redis.call('ZREM', paused_set, id)
  redis.call('HDEL', holders, id)
  if not empty(f[1]) then
    redis.call('ZREM', due_key(f[1]), id)
    redis.call('ZREM', cb_runs_key(f[1]), id)
  end
  if not empty(f[2]) then redis.call('SREM', group_key(f[2]), id) end
end

local function drop_claim(id, key)
  redis.call('HDEL', key, 'claim_token', 'lease_until')
  redis.call('HDEL', holders, id)
  redis.call('ZREM', claims, id)
end

local function remove_task(id)
  local key = task_key(id)
  unindex(id, key)
  redis.call('DEL', key)
end

-- Pausing stamps paused_at unless the task is already paused; resuming
-- clears it and puts run_at (or the lease end) back as the score. Failed
-- tasks are left alone.
local function set_paused(id, paused, now)
  local key = task_key(id)
  local f = redis.call('HMGET', key, 'paused', 'paused_at', 'failed_at')
  if not empty(f[3]) then return end
  if paused == '1' then
    if f[1] ~= '1' then
      local at = f[2]
      if not at or at == '' then at = now end
      redis.call('HSET', key, 'paused', '1', 'paused_at', at)
    end
  else
    redis.call('HSET', key, 'paused', '0', 'paused_at', '')
  end
  reindex(id, key)
end

-- The first id (from ARGV[from] on) that has no hash, or nil.
local function first_missing(from)
  for i = from, #ARGV do
    if redis.call('EXISTS', task_key(ARGV[i])) == 0 then return ARGV[i] end
  end
  return nil
end

-- A task's hash as a reply: {id, fields, holder or false}.
local function task_row(id, key)
  local fields = redis.call('HGETALL', key)
  if #fields == 0 then return nil end
  local holder = false
  if is_claimed(redis.call('HGET', key, 'claim_token')) then
    holder = redis.call('HGET', holders, id)
  end
  return {id, fields, holder}
end

-- Drop from a group set the members whose hash is gone or names another
-- group, or from a callback index those whose hash is gone or names another
-- callback (and from a due index the paused and failed ones).
local function prune(key, members)
  local group_head = base .. ':group:'
  local cb_head = base .. ':callback:'
  if key:sub(1, #group_head) == group_head and key:sub(-6) == ':tasks' then
    local gid = key:sub(#group_head + 1, #key - 6)
    for _, id in ipairs(members) do
      if redis.call('HGET', task_key(id), 'group_id') ~= gid then redis.call('SREM', key, id) end
    end
  elseif key:sub(1, #cb_head) == cb_head then
    local rest = key:sub(#cb_head + 1)
    local due_cb = rest:match('^(.*):due$')
    local cb = due_cb or rest:match('^(.*):runs$')
    if cb then
      for _, id in ipairs(members) do
        local f = redis.call('HMGET', task_key(id), 'callback', 'paused', 'failed_at')
        if f[1] ~= cb or (due_cb and (f[2] == '1' or not empty(f[3]))) then
          redis.call('ZREM', key, id)
        end
      end
    end
  end
end
