/**
 * The Lua scripts behind the call queue. Everything that pairs a call with a call taker, or moves
 * a taker, is one script: atomic across service instances, so one call is never offered twice
 * and one taker never holds two calls. Every taker transition is appended, in the same step, to
 * the `taker-events` stream that is drained into Postgres, so the history cannot disagree with
 * the state. Keys derive from one prefix (a single Redis, not Redis Cluster).
 *
 * Keys under the prefix P:
 *   P:waiting:<level>     zset  callId -> enqueued-at ms (level 0 urgent, 1 normal, 2 low)
 *   P:waiting:category    hash  callId -> skill the call needs ('' none)
 *   P:offers              hash  callId -> takerId while the taker's phone rings
 *   P:taker:<id>          hash  state, reason, since, callId, endpoint, skills (",a,b,"), reachable
 *   P:takers              set   every taker ever seen
 *   P:takers:available    zset  takerId -> idle-since ms (the longest-idle taker first)
 *   P:takers:wrapup       zset  takerId -> wrap-up ends at ms
 *   P:takers:logged-in    set   takers not offline
 *   P:leader              string the instance that owns call control (see leader-lease.ts)
 *   P:taker-events        stream one entry per taker transition
 */

const LEVELS = 3;

/** Helpers shared by the scripts; each script passes the prefix explicitly. */
const COMMON = `
local LEVELS = ${LEVELS}

local function log_event(P, takerId, state, previous, reason, callId, now)
  -- Never trimmed here: the drain deletes entries once Postgres has them, so none is lost.
  redis.call('XADD', P .. ':taker-events', '*',
    'taker', takerId, 'state', state, 'previous', previous, 'reason', reason, 'call', callId, 'at', now)
end

-- Moves a taker and keeps every index in step; logs when the state or its reason changes.
local function move(P, takerId, state, now, reason, callId, wrapUntil)
  local key = P .. ':taker:' .. takerId
  local previous = redis.call('HGET', key, 'state') or ''
  local previousReason = redis.call('HGET', key, 'reason') or ''
  redis.call('HSET', key, 'state', state, 'reason', reason, 'callId', callId)
  if previous ~= state or previousReason ~= reason then
    redis.call('HSET', key, 'since', now)
    log_event(P, takerId, state, previous, reason, callId, now)
  end
  redis.call('SADD', P .. ':takers', takerId)
  if state == 'available' then
    if previous ~= 'available' then redis.call('ZADD', P .. ':takers:available', now, takerId) end
  else
    redis.call('ZREM', P .. ':takers:available', takerId)
  end
  if state == 'wrap-up' then
    redis.call('ZADD', P .. ':takers:wrapup', wrapUntil, takerId)
  else
    redis.call('ZREM', P .. ':takers:wrapup', takerId)
  end
  if state == 'offline' then
    redis.call('SREM', P .. ':takers:logged-in', takerId)
  else
    redis.call('SADD', P .. ':takers:logged-in', takerId)
  end
  return previous
end

local function remove_waiting(P, callId)
  local removed = 0
  for level = 0, LEVELS - 1 do
    removed = removed + redis.call('ZREM', P .. ':waiting:' .. level, callId)
  end
  redis.call('HDEL', P .. ':waiting:category', callId)
  return removed
end
`;

/**
 * Pairs the best waiting call with the best free taker, if the caller still leads (fencing: a
 * deposed instance assigns nothing). Order: effective level (a call is promoted one level per
 * \`agingMs\` waited), then arrival. A call that chose a category goes to the longest-idle taker
 * with that skill until it has waited \`fallbackMs\`, then to any taker. Returns
 * {callId, takerId, enqueuedAt, endpoint, level, category} or nil.
 */
const ASSIGN = `
local function promote_wrapups(P, now)
  local due = redis.call('ZRANGEBYSCORE', P .. ':takers:wrapup', '-inf', now)
  for _, takerId in ipairs(due) do
    if redis.call('HGET', P .. ':taker:' .. takerId, 'state') == 'wrap-up' then
      move(P, takerId, 'available', now, 'wrap-up-ended', '', 0)
    else
      redis.call('ZREM', P .. ':takers:wrapup', takerId)
    end
  end
end

local function has_skill(P, takerId, category)
  local skills = redis.call('HGET', P .. ':taker:' .. takerId, 'skills') or ''
  return string.find(skills, ',' .. category .. ',', 1, true) ~= nil
end

local function assign(P, now, leader, agingMs, fallbackMs, scan)
  if redis.call('GET', P .. ':leader') ~= leader then return nil end
  promote_wrapups(P, now)
  local takers = redis.call('ZRANGE', P .. ':takers:available', 0, -1)
  if #takers == 0 then return nil end
  local candidates = {}
  for level = 0, LEVELS - 1 do
    local heads = redis.call('ZRANGE', P .. ':waiting:' .. level, 0, scan - 1, 'WITHSCORES')
    for i = 1, #heads, 2 do
      local enqueuedAt = tonumber(heads[i + 1])
      local effective = level
      if agingMs > 0 then effective = math.max(0, level - math.floor((now - enqueuedAt) / agingMs)) end
      candidates[#candidates + 1] = { heads[i], enqueuedAt, level, effective, heads[i + 1] }
    end
  end
  table.sort(candidates, function(a, b)
    if a[4] ~= b[4] then return a[4] < b[4] end
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[1] < b[1]
  end)
  for _, candidate in ipairs(candidates) do
    local callId, enqueuedAt, level = candidate[1], candidate[2], candidate[3]
    local category = redis.call('HGET', P .. ':waiting:category', callId) or ''
    local needsSkill = category ~= '' and (now - enqueuedAt) < fallbackMs
    for _, takerId in ipairs(takers) do
      if (not needsSkill) or has_skill(P, takerId, category) then
        remove_waiting(P, callId)
        move(P, takerId, 'reserved', now, '', callId, 0)
        redis.call('HSET', P .. ':offers', callId, takerId)
        local endpoint = redis.call('HGET', P .. ':taker:' .. takerId, 'endpoint') or ''
        return { callId, takerId, candidate[5], endpoint, tostring(level), category }
      end
    end
  end
  return nil
end
`;

/** The policy arguments every assigning script takes after its own: leader, agingMs, fallbackMs, scan. */
const POLICY_ARGS = (first: number) => `
local leader, agingMs, fallbackMs, scan = ARGV[${first}], tonumber(ARGV[${first + 1}]), tonumber(ARGV[${first + 2}]), tonumber(ARGV[${first + 3}])
`;

/**
 * enqueue: stores the call's snapshot, puts it in its level (a call already waiting keeps its
 * place), then tries to assign.
 * ARGV: P, callId, level, enqueuedAt, category, snapshot, now, then the policy arguments.
 */
export const ENQUEUE = `${COMMON}${ASSIGN}
local P, callId, level, enqueuedAt, category, snapshot, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
${POLICY_ARGS(8)}
redis.call('SET', P .. ':call:' .. callId, snapshot)
redis.call('SADD', P .. ':calls', callId)
if redis.call('HEXISTS', P .. ':offers', callId) == 0 then
  local waiting = false
  for l = 0, LEVELS - 1 do
    if redis.call('ZSCORE', P .. ':waiting:' .. l, callId) then waiting = true end
  end
  if not waiting then
    redis.call('ZADD', P .. ':waiting:' .. level, enqueuedAt, callId)
    if category ~= '' then redis.call('HSET', P .. ':waiting:category', callId, category) end
  end
end
return assign(P, now, leader, agingMs, fallbackMs, scan)
`;

/** dispatch: ARGV: P, now, then the policy arguments. */
export const DISPATCH = `${COMMON}${ASSIGN}
local P, now = ARGV[1], tonumber(ARGV[2])
${POLICY_ARGS(3)}
return assign(P, now, leader, agingMs, fallbackMs, scan)
`;

/**
 * withdraw: the call no longer waits (caller hung up, overflowed): takes it out of the queue and
 * frees a taker reserved for it. With \`ifWaiting\` = '1' only a waiting call is taken out: an
 * offer made meanwhile stands (its taker is being rung).
 * ARGV: P, callId, now, ifWaiting. Returns {waiting (1 if it was still waiting), takerId or ''}.
 */
export const WITHDRAW = `${COMMON}
local P, callId, now, ifWaiting = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local removed = remove_waiting(P, callId)
local takerId = redis.call('HGET', P .. ':offers', callId) or ''
if ifWaiting == '1' and removed == 0 then return { 0, takerId } end
redis.call('HDEL', P .. ':offers', callId)
if takerId ~= '' then
  local key = P .. ':taker:' .. takerId
  if redis.call('HGET', key, 'state') == 'reserved' and redis.call('HGET', key, 'callId') == callId then
    move(P, takerId, 'available', now, 'offer-withdrawn', '', 0)
  end
end
return { removed, takerId }
`;

/**
 * requeue: an offer failed; the call goes back to its own place (same level and enqueued-at, so
 * newer calls never overtake it) and the taker to the state the failure calls for. A late or
 * repeated failure changes nothing: one for a taker who no longer holds the call (ringing or
 * talking), or, without a taker, one for a call being offered again.
 * ARGV: P, callId, level, enqueuedAt, category, takerId, takerState, reason, now.
 * Returns 1, or 0 when it changed nothing.
 */
export const REQUEUE = `${COMMON}
local P, callId, level, enqueuedAt, category, takerId, takerState, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local offered = redis.call('HGET', P .. ':offers', callId)
if takerId ~= '' then
  local key = P .. ':taker:' .. takerId
  local state = redis.call('HGET', key, 'state')
  if redis.call('HGET', key, 'callId') ~= callId or (state ~= 'reserved' and state ~= 'on-call') then return 0 end
  if offered and offered ~= takerId then return 0 end
elseif offered then
  return 0
end
redis.call('HDEL', P .. ':offers', callId)
if redis.call('EXISTS', P .. ':call:' .. callId) == 1 then
  redis.call('ZADD', P .. ':waiting:' .. level, enqueuedAt, callId)
  if category ~= '' then redis.call('HSET', P .. ':waiting:category', callId, category) end
end
if takerId ~= '' then move(P, takerId, takerState, now, reason, '', 0) end
return 1
`;

/**
 * reclaim: an adopted call whose snapshot says it waits. If the instance that died had already
 * reserved a taker for it but never rang them (the snapshot was not saved), the reservation is
 * dropped and the call is back in its place. ARGV: P, callId, level, enqueuedAt, category, now.
 * Returns the taker released, or ''.
 */
export const RECLAIM = `${COMMON}
local P, callId, level, enqueuedAt, category, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local takerId = redis.call('HGET', P .. ':offers', callId) or ''
if takerId == '' then return '' end
redis.call('HDEL', P .. ':offers', callId)
redis.call('ZADD', P .. ':waiting:' .. level, enqueuedAt, callId)
if category ~= '' then redis.call('HSET', P .. ':waiting:category', callId, category) end
local key = P .. ':taker:' .. takerId
if redis.call('HGET', key, 'state') == 'reserved' and redis.call('HGET', key, 'callId') == callId then
  move(P, takerId, 'available', now, 'offer-abandoned', '', 0)
end
return takerId
`;

/**
 * connect: the taker answered. ARGV: P, takerId, callId, now.
 * Returns 1, or 0 when the taker is no longer reserved for this call: a late answer then changes
 * nothing (the call may be ringing another taker, whose offer must stay).
 */
export const CONNECT = `${COMMON}
local P, takerId, callId, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = P .. ':taker:' .. takerId
local state = redis.call('HGET', key, 'state')
if redis.call('HGET', key, 'callId') ~= callId or (state ~= 'reserved' and state ~= 'on-call') then return 0 end
redis.call('HDEL', P .. ':offers', callId)
move(P, takerId, 'on-call', now, '', callId, 0)
return 1
`;

/**
 * release: the call ended; its taker goes to wrap-up until \`wrapUntil\` (or straight back to
 * available when that is not in the future), unless the taker has already moved on. A taker still
 * reserved (their answer never recorded) goes back to available: there is no move from reserved
 * to wrap-up. A taker back to available is matched with the best waiting call in the same step
 * (one round trip less between a taker hanging up and the next caller's ring).
 * ARGV: P, takerId, callId, now, wrapUntil, then the policy arguments.
 * Returns {new state or '', assignment or nil}.
 */
export const RELEASE = `${COMMON}${ASSIGN}
local P, takerId, callId, now, wrapUntil = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
${POLICY_ARGS(6)}
local key = P .. ':taker:' .. takerId
if redis.call('HGET', key, 'callId') ~= callId then return { '' } end
local current = redis.call('HGET', key, 'state')
-- Released already (a retried step, another instance): the wrap-up runs on, not anew.
if current == 'wrap-up' then return { 'wrap-up' } end
if current == 'reserved' then
  if redis.call('HGET', P .. ':offers', callId) == takerId then redis.call('HDEL', P .. ':offers', callId) end
  wrapUntil = now
end
if wrapUntil > now then
  move(P, takerId, 'wrap-up', now, '', callId, wrapUntil)
  return { 'wrap-up' }
end
move(P, takerId, 'available', now, '', '', 0)
return { 'available', assign(P, now, leader, agingMs, fallbackMs, scan) }
`;

/**
 * set-taker-state: a taker (or supervisor) changes state from the desk. A taker whose phone is
 * unreachable who asks to be available goes on break 'unreachable' instead. With \`guard\` = '1' a
 * taker who is being offered a call or is on one is not moved ('busy'); with \`holding\` a call id, a
 * taker who no longer holds that call is not moved ('busy') either.
 * ARGV: P, takerId, state, reason, now, endpoint ('' keeps it), skills ('' keeps it), guard, holding.
 * Returns {previous, new state} or {'busy', previous}.
 */
export const SET_TAKER_STATE = `${COMMON}
local P, takerId, state, reason, now, endpoint, skills, guard, holding = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = P .. ':taker:' .. takerId
local previous = redis.call('HGET', key, 'state') or ''
if guard == '1' and (previous == 'reserved' or previous == 'on-call') then return { 'busy', previous } end
if holding ~= '' and redis.call('HGET', key, 'callId') ~= holding then return { 'busy', previous } end
if endpoint ~= '' then
  local old = redis.call('HGET', key, 'endpoint')
  if old and old ~= endpoint then redis.call('HDEL', P .. ':endpoints', old) end
  redis.call('HSET', key, 'endpoint', endpoint)
  redis.call('HSET', P .. ':endpoints', endpoint, takerId)
end
if skills ~= '' then redis.call('HSET', key, 'skills', skills) end
if state == 'available' and redis.call('HGET', key, 'reachable') == '0' then
  state, reason = 'break', 'unreachable'
end
local callId = ''
if state == 'reserved' or state == 'on-call' or state == 'wrap-up' then callId = redis.call('HGET', key, 'callId') or '' end
move(P, takerId, state, now, reason, callId, now)
return { previous, state }
`;

/**
 * set-reachable: the softphone registered or vanished (ARI endpoint state, AMI ContactStatus).
 * Unreachable takes a free taker out of rotation (break 'unreachable'); reachable again brings
 * back a taker whom unreachability alone had taken out.
 * ARGV: P, endpoint, reachable ('1' or '0'), now. Returns {takerId, previous, new state} or nil.
 */
export const SET_REACHABLE = `${COMMON}
local P, endpoint, reachable, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local takerId = redis.call('HGET', P .. ':endpoints', endpoint)
if not takerId then return nil end
local key = P .. ':taker:' .. takerId
redis.call('HSET', key, 'reachable', reachable)
local state = redis.call('HGET', key, 'state') or 'offline'
local reason = redis.call('HGET', key, 'reason') or ''
if reachable == '0' and (state == 'available' or state == 'wrap-up') then
  move(P, takerId, 'break', now, 'unreachable', '', 0)
  return { takerId, state, 'break' }
end
if reachable == '1' and state == 'break' and reason == 'unreachable' then
  move(P, takerId, 'available', now, 'reachable', '', 0)
  return { takerId, state, 'available' }
end
return { takerId, state, state }
`;

/**
 * reserve-taker: takes an available taker whose phone is reachable for work that is not a
 * waiting call (a callback), so no call is offered to them meanwhile. Any other state is left
 * alone: 112 calls come first, a taker who is not free cannot take other work.
 * ARGV: P, takerId, callId, reason, now. Returns {1, previous} when reserved, {0, state} when not.
 */
export const RESERVE_TAKER = `${COMMON}
local P, takerId, callId, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = P .. ':taker:' .. takerId
local state = redis.call('HGET', key, 'state') or 'offline'
if state ~= 'available' or redis.call('HGET', key, 'reachable') == '0' then return { 0, state } end
move(P, takerId, 'reserved', now, reason, callId, 0)
return { 1, state }
`;
