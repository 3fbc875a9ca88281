/**
 * Lua scripts that make offering atomic: a call leaves the waiting set and a taker leaves the
 * available set in one step, so two service instances can never offer one call twice nor give
 * one taker two calls. Keys are built from one prefix (single Redis, not Redis Cluster).
 *
 * Waiting score = priority * 1e13 + enqueued-at ms: strict priority, then first come first served.
 * Available score = idle-since ms: the longest-idle taker is first.
 */

/**
 * Shared by enqueue and dispatch: pops the head call and the longest-idle taker if both exist.
 * KEYS: none of its own (uses the caller's locals). Returns {callId, takerId, score, endpoint} or nil.
 */
const ASSIGN = `
local function assign(prefix, now)
  local waiting = prefix .. ':waiting'
  local available = prefix .. ':takers:available'
  local head = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
  if #head == 0 then return nil end
  local taker = redis.call('ZRANGE', available, 0, 0)
  if #taker == 0 then return nil end
  local callId, score, takerId = head[1], head[2], taker[1]
  redis.call('ZREM', waiting, callId)
  redis.call('ZREM', available, takerId)
  local takerKey = prefix .. ':taker:' .. takerId
  redis.call('HSET', takerKey, 'state', 'reserved', 'callId', callId, 'since', now)
  redis.call('HSET', prefix .. ':offers', callId, takerId)
  return {callId, takerId, score, redis.call('HGET', takerKey, 'endpoint') or ''}
end
`;

/**
 * enqueue: puts a call in the waiting set (keeping its old score if it is there already) and
 * stores its snapshot, then tries to assign.
 * KEYS[1] prefix-free marker (unused; keys derive from ARGV[1])
 * ARGV[1] prefix, ARGV[2] callId, ARGV[3] score, ARGV[4] now ms, ARGV[5] snapshot JSON
 * Returns an assignment {callId, takerId, score, endpoint} or nil.
 */
export const ENQUEUE = `${ASSIGN}
local prefix, callId, score, now, snapshot = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('SET', prefix .. ':call:' .. callId, snapshot)
redis.call('SADD', prefix .. ':calls', callId)
redis.call('ZADD', prefix .. ':waiting', 'NX', score, callId)
return assign(prefix, now)
`;

/**
 * dispatch: tries to assign the head call to the longest-idle taker.
 * ARGV[1] prefix, ARGV[2] now ms. Returns an assignment or nil.
 */
export const DISPATCH = `${ASSIGN}
return assign(ARGV[1], ARGV[2])
`;

/**
 * withdraw: takes a call out of waiting (caller hung up) and frees a taker reserved for it.
 * ARGV[1] prefix, ARGV[2] callId, ARGV[3] now ms.
 * Returns the id of the taker that was reserved for the call, or false.
 */
export const WITHDRAW = `
local prefix, callId, now = ARGV[1], ARGV[2], ARGV[3]
redis.call('ZREM', prefix .. ':waiting', callId)
local takerId = redis.call('HGET', prefix .. ':offers', callId)
redis.call('HDEL', prefix .. ':offers', callId)
if takerId then
  local takerKey = prefix .. ':taker:' .. takerId
  if redis.call('HGET', takerKey, 'state') == 'reserved' and redis.call('HGET', takerKey, 'callId') == callId then
    redis.call('HSET', takerKey, 'state', 'available', 'callId', '', 'since', now)
    redis.call('ZADD', prefix .. ':takers:available', now, takerId)
  end
end
return takerId
`;

/**
 * requeue: an offer failed; the call goes back to its old place (its original score, so it is
 * not overtaken by newer calls) and the taker leaves rotation (ring-no-answer or unreachable).
 * ARGV[1] prefix, ARGV[2] callId, ARGV[3] score, ARGV[4] takerId, ARGV[5] taker's new state,
 * ARGV[6] now ms. Returns 1.
 */
export const REQUEUE = `
local prefix, callId, score, takerId, takerState, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HDEL', prefix .. ':offers', callId)
redis.call('ZADD', prefix .. ':waiting', score, callId)
local takerKey = prefix .. ':taker:' .. takerId
if redis.call('HGET', takerKey, 'callId') == callId then
  redis.call('HSET', takerKey, 'state', takerState, 'callId', '', 'since', now)
  redis.call('ZREM', prefix .. ':takers:available', takerId)
end
return 1
`;

/**
 * set-taker-state: moves a taker, keeping the available set in step with the state.
 * ARGV[1] prefix, ARGV[2] takerId, ARGV[3] state, ARGV[4] now ms, ARGV[5] endpoint ('' keeps it),
 * ARGV[6] callId ('' clears it).
 * Returns the previous state, or false when the taker was unknown.
 */
export const SET_TAKER_STATE = `
local prefix, takerId, state, now, endpoint, callId = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local takerKey = prefix .. ':taker:' .. takerId
local previous = redis.call('HGET', takerKey, 'state')
if endpoint ~= '' then redis.call('HSET', takerKey, 'endpoint', endpoint) end
if previous ~= state then redis.call('HSET', takerKey, 'since', now) end
redis.call('HSET', takerKey, 'state', state, 'callId', callId)
redis.call('SADD', prefix .. ':takers', takerId)
if state == 'available' then
  if previous ~= 'available' then redis.call('ZADD', prefix .. ':takers:available', now, takerId) end
else
  redis.call('ZREM', prefix .. ':takers:available', takerId)
end
return previous
`;
