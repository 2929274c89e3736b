-- list_tasks / count_tasks: ARGV = base, mode ('list'/'count'), now, want
-- (0: no limit), budget, source ('runs', 'claims', 'failed', 'paused',
-- 'callback' or 'group'), source name, then the filters: group, callback,
-- state, claimed_by ('' = any), the run_at range lo/hi (Redis range syntax:
-- '-inf', 'x', '(x' / '+inf', 'x', '(x') and the cursor (score text and id,
-- '' = from the start).
-- Walks the source in (run_at, task_id) order from the cursor, reading at
-- most `budget` entries, and returns {finished, last score, last id, count,
-- rows...}; rows are {id, fields, holder} in list mode. When not finished,
-- the caller asks again from the last entry read.
local mode, now, want, budget = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local source, source_name = ARGV[6], ARGV[7]
local want_group, want_cb, want_state, want_holder = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local lo, hi = ARGV[12], ARGV[13]
local cursor_score, cursor_id = ARGV[14], ARGV[15]

local function bound(text)
  if text == '-inf' or text == '+inf' then return nil, false end
  if text:sub(1, 1) == '(' then return tonumber(text:sub(2)), true end
  return tonumber(text), false
end
local hi_n, hi_open = bound(hi)
local lo_n, lo_open = bound(lo)

local function above_hi(score)
  if hi_n == nil then return false end
  if hi_open then return score >= hi_n end
  return score > hi_n
end
local function below_lo(score)
  if lo_n == nil then return false end
  if lo_open then return score <= lo_n end
  return score < lo_n
end

local function state_of(f, holder)
  -- f = paused, run_at, claim_token, lease_until, failed_at, callback, group_id
  if not empty(f[5]) then return 'failed' end
  if f[1] == '1' then return 'paused' end
  local lease = finite(f[4])
  if is_claimed(f[3]) and holder and lease and lease > now then return 'claimed' end
  local run = finite(f[2])
  if run and run <= now then return 'due' end
  return 'scheduled'
end

-- The task's row (or true in count mode) when it passes every filter, else nil.
local function check(id)
  local key = task_key(id)
  local f = redis.call('HMGET', key, 'paused', 'run_at', 'claim_token', 'lease_until',
    'failed_at', 'callback', 'group_id')
  if not f[2] then return nil end
  if want_group ~= '' and f[7] ~= want_group then return nil end
  if want_cb ~= '' and f[6] ~= want_cb then return nil end
  local holder = false
  if is_claimed(f[3]) and finite(f[4]) then holder = redis.call('HGET', holders, id) end
  if want_holder ~= '' and holder ~= want_holder then return nil end
  if want_state ~= '' and state_of(f, holder) ~= want_state then return nil end
  if mode == 'count' then return true end
  return {id, redis.call('HGETALL', key), holder}
end

local rows, count = {}, 0
local function take(row)
  count = count + 1
  if mode ~= 'count' then rows[#rows + 1] = row end
end

if source == 'group' then
  -- A group's set has no order: read its members (the group's size bounds
  -- the work) and sort them.
  local cs = finite(cursor_score)
  local entries = {}
  for _, id in ipairs(redis.call('SMEMBERS', group_key(source_name))) do
    local run = finite(redis.call('HGET', task_key(id), 'run_at'))
    if run and not below_lo(run) and not above_hi(run)
        and (cs == nil or run > cs or (run == cs and bytes_less(cursor_id, id))) then
      entries[#entries + 1] = {run, id}
    end
  end
  table.sort(entries, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return bytes_less(a[2], b[2])
  end)
  for _, entry in ipairs(entries) do
    if want > 0 and count >= want then break end
    local row = check(entry[2])
    if row then take(row) end
  end
  local out = {1, '', '', count}
  for _, row in ipairs(rows) do out[#out + 1] = row end
  return out
end

local index
if source == 'runs' then index = runs
elseif source == 'claims' then index = claims
elseif source == 'failed' then index = failed_set
elseif source == 'paused' then index = paused_set
else index = cb_runs_key(source_name) end

-- The rank of the first entry at or after the range's start ...
local start = 0
if lo_n ~= nil then
  if lo_open then
    start = redis.call('ZCOUNT', index, '-inf', lo:sub(2))
  else
    start = redis.call('ZCOUNT', index, '-inf', '(' .. lo)
  end
end
-- ... and past the cursor: the first entry scored above it, or scored the
-- same with a greater id (found by bisection among the equal scores).
if cursor_score ~= '' then
  local first = redis.call('ZCOUNT', index, '-inf', '(' .. cursor_score)
  local past = redis.call('ZCOUNT', index, '-inf', cursor_score)
  while first < past do
    local mid = math.floor((first + past) / 2)
    local member = redis.call('ZRANGE', index, mid, mid)[1]
    if member == nil then break end
    if bytes_less(cursor_id, member) then past = mid else first = mid + 1 end
  end
  if first > start then start = first end
end

local read, last_score, last_id = 0, '', ''
local chunk = 200
local finished = 1
while true do
  if want > 0 and count >= want then break end
  if read >= budget then finished = 0 break end
  local page = redis.call('ZRANGE', index, start, start + chunk - 1, 'WITHSCORES')
  if #page == 0 then break end
  local stop = false
  for k = 1, #page, 2 do
    local id, score = page[k], page[k + 1]
    if above_hi(tonumber(score)) then stop = true break end
    read = read + 1
    last_score, last_id = score, id
    local row = check(id)
    if row then take(row) end
    if (want > 0 and count >= want) then stop = true break end
    if read >= budget then finished = 0 stop = true break end
  end
  if stop then break end
  start = start + chunk
end
if want > 0 and count >= want then finished = 1 end
local out = {finished, last_score, last_id, count}
for _, row in ipairs(rows) do out[#out + 1] = row end
return out
