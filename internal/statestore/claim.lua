-- The ops of a batch that run in order after its plain commands (redis.go):
-- the claims (claim.go), each with the counting op it decides on, and the
-- ops with gates (Batch.CountOnce); each entry is atomic (the whole call
-- is). An op's commands are those redis.go sends for it in a pipeline, the
-- decision is claimArgs.decide's, and the claim's effect MemberMax's or
-- RemoveMember's; memory.go does the same in Go.
--
-- ARGV[1] is the batch's token: the value of the marks its gates set, so
-- that a mark set by an earlier entry or call of the same batch counts
-- again (the same execution in a failures and an executions window).
-- Then 23 values per entry, then 2 per gate of the entry; KEYS its keys,
-- entry after entry:
--   1 its number of keys (without the marks), 2 the op (incr, window,
--   distinct or top), 3 list limit, 4 has Of, 5 member, 6 capacity, 7 TTL
--   ms, 8 known level, 9 final,
--   10-16 the rule: threshold, factor, base, calm, min ratio, calm ratio, min of,
--   17-21 the op's arguments:
--     incr: delta, TTL ms
--     window: delta, TTL ms, buckets, bucket of the add, first live bucket
--     distinct: member, score, cutoff score, capacity, TTL ms
--     top: delta, member, capacity, TTL ms
--   22 its number of gates, 23 1 when a claim decides on the op,
--   then per gate: delta, mark TTL ms;
--   keys: the counted key, the registry set, the Of window (when it has
--   one), then the sets to list (a claim's), then the gates' marks.
-- Returns, entry after entry: count, level after (the op's OK without a
-- claim), 1 when raised or resolved, the op's error or '', the claim's
-- error or '', the number of listed members, then each listed member and
-- its score.

local token = ARGV[1]
local width = 23

-- sum adds up window buckets (HMGET replies); nil and an error for a bucket
-- that is not an integer.
local function sum(values)
  local n = 0
  for i = 1, #values do
    local v = values[i]
    if v then
      if not string.find(v, '^[+-]?%d+$') then
        return nil, 'bucket is not an integer: "' .. v .. '"'
      end
      n = n + tonumber(v)
    end
  end
  return n
end

-- counted holds the marks this call decided on: whether the batch counts
-- them (a mark gating several ops is set once).
local counted = {}

-- delta is the op's delta at ARGV offset a plus those of its gates whose
-- mark this batch set (SET NX, or found with the batch's token); nil and
-- an error for a mark of another type (the marks before it stay set).
local function delta(a, k)
  local d, gates = tonumber(ARGV[a + 17]), tonumber(ARGV[a + 22])
  local mark = k + tonumber(ARGV[a + 1])
  for g = 0, gates - 1 do
    local key = KEYS[mark + g]
    local new = counted[key]
    if new == nil then
      local old = redis.pcall('SET', key, token, 'NX', 'GET', 'PX', ARGV[a + 25 + 2 * g])
      if type(old) == 'table' then
        return nil, old.err
      end
      new = not old or old == token
      counted[key] = new
    end
    if new then
      d = d + tonumber(ARGV[a + 24 + 2 * g])
    end
  end
  return d
end

-- count runs the op of the entry at ARGV offset a, keys from k; it returns
-- the count and the Of count (TopAdd: whether the member made the cut), or
-- nil and the op's error (then it changed nothing but marks), or the count
-- and the claim's error.
local function count(a, k)
  local op, key = ARGV[a + 2], KEYS[k]
  if op == 'distinct' then
    local added = redis.pcall('ZADD', key, 'GT', ARGV[a + 18], ARGV[a + 17])
    if type(added) == 'table' then
      return nil, added.err
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[a + 19])
    redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(ARGV[a + 20]) - 1)
    redis.call('PEXPIRE', key, ARGV[a + 21])
    return redis.call('ZCARD', key), 0
  end
  local d, err = delta(a, k)
  if not d then
    return nil, err
  end
  if op == 'incr' then
    local n = redis.pcall('INCRBY', key, d)
    if type(n) == 'table' then
      return nil, n.err
    end
    redis.call('PEXPIRE', key, ARGV[a + 18], 'NX')
    return n, 0
  elseif op == 'top' then
    local added = redis.pcall('ZINCRBY', key, d, ARGV[a + 18])
    if type(added) == 'table' then
      return nil, added.err
    end
    redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(ARGV[a + 19]) - 1)
    redis.call('PEXPIRE', key, ARGV[a + 20])
    local score = redis.call('ZSCORE', key, ARGV[a + 18])
    if not score then
      return 0, 0 -- trimmed away
    end
    return tonumber(score), 1
  elseif op == 'window' then
    local n, at, from = tonumber(ARGV[a + 19]), tonumber(ARGV[a + 20]), tonumber(ARGV[a + 21])
    if from > at then
      return 0, 0 -- older than the window ending now
    end
    if d ~= 0 then
      local added = redis.pcall('HINCRBY', key, ARGV[a + 20], d)
      if type(added) == 'table' then
        return nil, added.err
      end
      -- Buckets that left the window of this add go, as in the pipeline.
      local gone = {}
      for i = at - 2 * n + 1, at - n do
        gone[#gone + 1] = string.format('%d', i)
      end
      redis.call('HDEL', key, unpack(gone))
      redis.call('PEXPIRE', key, ARGV[a + 18])
    end
    local live = {}
    for i = from, at do
      live[#live + 1] = string.format('%d', i)
    end
    local values = redis.pcall('HMGET', key, unpack(live))
    if values.err then
      return nil, values.err
    end
    local c, err = sum(values)
    if err then
      return nil, err
    end
    if ARGV[a + 4] ~= '1' then
      return c, 0
    end
    values = redis.pcall('HMGET', KEYS[k + 2], unpack(live))
    if values.err then
      return c, 0, values.err
    end
    local of
    of, err = sum(values)
    return c, of or 0, err
  end
  return nil, 'cannot run ' .. op
end

-- claim decides and applies the claim at ARGV offset a, keys from k, on
-- count c and Of count of; it returns the level after, 1 when it raised or
-- resolved the alert, and an error.
local function claim(a, k, c, of)
  -- The level: Rule.Level, with escalationLevel (claim.go).
  local threshold, factor = tonumber(ARGV[a + 10]), tonumber(ARGV[a + 11])
  local minRatio, ratio = tonumber(ARGV[a + 14]), 0
  if of > 0 then
    ratio = math.min(1, c / of)
  end
  local lvl, v = 0, c - tonumber(ARGV[a + 12])
  if v > threshold and not (minRatio > 0 and (of < tonumber(ARGV[a + 16]) or ratio <= minRatio)) then
    lvl = 1
    if threshold > 0 and factor > 1 then
      local limit = threshold * factor
      while v > limit and lvl < 64 do
        lvl, limit = lvl + 1, limit * factor
      end
    end
  end

  -- The decision: claimArgs.decide.
  local known, final = tonumber(ARGV[a + 8]), ARGV[a + 9] == '1'
  local action
  if final then
    if lvl > 0 then
      action = 'resolve'
    end
  elseif lvl > known then
    action = 'raise'
  elseif known > 0 and (c < tonumber(ARGV[a + 13]) or (minRatio > 0 and ratio < tonumber(ARGV[a + 15]))) then
    action = 'resolve'
  end
  if not action then
    return known, 0
  end

  -- A failed claim changes nothing: the sets it lists are checked first.
  local set, member = KEYS[k + 1], ARGV[a + 5]
  local firstListed = ARGV[a + 4] == '1' and k + 3 or k + 2
  for i = firstListed, k + tonumber(ARGV[a + 1]) - 1 do
    local t = redis.call('TYPE', KEYS[i]).ok
    if t ~= 'zset' and t ~= 'none' then
      return 0, 0, 'WRONGTYPE ' .. KEYS[i] .. ' is not a sorted set'
    end
  end
  if action == 'resolve' then
    local removed = redis.pcall('ZREM', set, member)
    if type(removed) == 'table' then
      return 0, 0, removed.err
    end
    return 0, removed
  end
  local raised = redis.pcall('ZADD', set, 'GT', 'CH', lvl, member)
  if type(raised) == 'table' then
    return 0, 0, raised.err
  end
  redis.call('ZREMRANGEBYRANK', set, 0, -tonumber(ARGV[a + 6]) - 1)
  redis.call('PEXPIRE', set, ARGV[a + 7])
  local score = redis.call('ZSCORE', set, member)
  if not score then
    return 0, 0 -- trimmed away
  end
  return tonumber(score), raised
end

local out, k, a = {}, 1, 1
while a < #ARGV do
  local nkeys, gates, n = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 22]), #out
  local c, of, err = count(a, k)
  if not c then
    -- of is the op's error.
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = 0, 0, 0, of, '', 0
  elseif ARGV[a + 23] ~= '1' then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = c, of, 0, '', '', 0
  else
    local value, ok = 0, 0
    if not err then
      value, ok, err = claim(a, k, c, of)
    end
    if not err and ARGV[a + 9] == '1' then
      redis.call('DEL', KEYS[k])
    end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = c, value, ok, '', err or '', 0
    if ok == 1 then
      local limit = tonumber(ARGV[a + 3]) - 1
      for i = (ARGV[a + 4] == '1' and k + 3 or k + 2), k + nkeys - 1 do
        local members = redis.call('ZREVRANGE', KEYS[i], 0, limit, 'WITHSCORES')
        for m = 1, #members do
          out[#out + 1] = members[m]
        end
      end
      out[n + 6] = (#out - n - 6) / 2
    end
  end
  k, a = k + nkeys + gates, a + width + 2 * gates
end
return out
