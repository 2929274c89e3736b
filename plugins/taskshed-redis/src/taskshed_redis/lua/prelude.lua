-- Shared by every script. KEYS[1] is the schedule (sorted set), KEYS[2] the
-- claims index (sorted set); ARGV[1] is the key base that task and group keys
-- are built on. All keys of one store share the base, so with a Cluster hash
-- tag they share one slot and the keys built here are local to the node.
local queue = KEYS[1]
local claims = KEYS[2]
local base = ARGV[1]

local function task_key(id) return base .. ':task:' .. id end
local function group_key(gid) return base .. ':group:' .. gid .. ':tasks' end

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

-- The score a task should have in the schedule: +inf while paused (as 0.10
-- wrote it), else run_at, pushed to the end of the lease while claimed, so
-- that every score <= now is a claimable task. A run_at that is not a number
-- scores 0: the next claim sees the record and sets it aside, logged.
local function score_for(key)
  local f = redis.call('HMGET', key, 'paused', 'run_at', 'claim_token', 'lease_until')
  if f[1] == '1' then return '+inf' end
  local run = finite(f[2]) or 0
  if is_claimed(f[3]) then
    local lease = finite(f[4])
    if lease and lease > run then return lease end
  end
  return run
end

local function drop_claim(id, key)
  redis.call('HDEL', key, 'claim_token', 'lease_until')
  redis.call('ZREM', claims, id)
end

local function remove_task(id)
  local key = task_key(id)
  local gid = redis.call('HGET', key, 'group_id')
  if gid and gid ~= '' then redis.call('SREM', group_key(gid), id) end
  redis.call('DEL', key)
  redis.call('ZREM', queue, id)
  redis.call('ZREM', claims, id)
end

-- Pausing stamps paused_at unless the task is already paused; resuming
-- clears it and puts run_at (or the lease end) back as the score.
local function set_paused(id, paused, now)
  local key = task_key(id)
  if paused == '1' then
    local f = redis.call('HMGET', key, 'paused', 'paused_at')
    if f[1] ~= '1' then
      local at = f[2]
      if not at or at == '' then at = now end
      redis.call('HSET', key, 'paused', '1', 'paused_at', at)
    end
    redis.call('ZADD', queue, '+inf', id)
  else
    redis.call('HSET', key, 'paused', '0', 'paused_at', '')
    redis.call('ZADD', queue, score_for(key), id)
  end
end

-- Every id that exists, or the first one that doesn't (checked before any write).
local function first_missing(from)
  for i = from, #ARGV do
    if redis.call('EXISTS', task_key(ARGV[i])) == 0 then return ARGV[i] end
  end
  return nil
end
