/**
 * The Lua helpers every script of the Redis store begins with (`redis-scripts.ts`): numbers, the revocation message,
 * the log write, the user's index of ended sessions. Times are printed with '%.0f', as in the scripts.
 */

/** Shared Lua helpers, prepended to each script. */
export const PRELUDE = `
local function num(v) return tonumber(v) or 0 end
-- The revocation message. Strings go through cjson.encode: a '"' or '\\' in a reason must not
-- break the JSON, or other instances would silently miss the revocation. Times are printed with
-- '%.0f' (cjson would round them to 14 significant digits).
local function ms(v) return string.format('%.0f', tonumber(v)) end
-- detail: a JSON object already encoded (by Node, or by reuseDetail below), or '' for none.
local function event(kind, id, at, expiresAt, reason, detail)
  local out = '{"kind":' .. cjson.encode(kind) .. ',"id":' .. cjson.encode(id) .. ',"at":' .. ms(at)
    .. ',"expiresAt":' .. ms(expiresAt) .. ',"reason":' .. cjson.encode(reason)
  if detail ~= nil and detail ~= '' then out = out .. ',"detail":' .. detail end
  return out .. '}'
end
-- Logs a revocation for instances that re-read after a reconnect and for the feed's followers:
-- under a cursor (seq) taken here, in the script, so seq order is the order of the writes (never a
-- clock's). The log is scored by expiry (trimmed of what expired, living as long as its newest
-- entry), its twin ':order' by seq; the counter ':seq' is the larger of its next value and the
-- time in µs (#21 round 3, B2): a Redis that lost only its last writes (a restart from RDB, an AOF
-- 'everysec' crash, a failover to a lagging replica) has a counter behind cursors it handed out,
-- and the clock takes it past them, so that no new event gets a seq a follower already passed.
-- All share the log's hash tag (same slot on a cluster). Returns the entry.
local function logEvent(log, message, at, expiresAt)
  local seqKey, order = log .. ':seq', log .. ':order'
  local t = redis.call('TIME')
  local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local seq = tonumber(redis.call('INCR', seqKey))
  if clock > seq then
    seq = clock
    redis.call('SET', seqKey, ms(seq), 'KEEPTTL') -- the longest life an event gave it stays (#21 round 3)
  end
  seq = ms(seq)
  local entry = '{"seq":' .. seq .. ',' .. string.sub(message, 2)
  redis.call('ZADD', log, ms(expiresAt), entry)
  redis.call('ZADD', order, seq, entry)
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', log, '-inf', ms(at))) do redis.call('ZREM', order, gone) end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', ms(at))
  local ttl = num(expiresAt) - num(at)
  if ttl > 0 and redis.call('PTTL', log) < ttl then redis.call('PEXPIRE', log, ms(ttl)) end
  if ttl > 0 and redis.call('PTTL', order) < ttl then redis.call('PEXPIRE', order, ms(ttl)) end
  -- The counter too: gone only once the log has been idle so long that the time in µs it starts
  -- again from is past every seq it handed out (one per event, far fewer than one per µs).
  if ttl > 0 and redis.call('PTTL', seqKey) < ttl then redis.call('PEXPIRE', seqKey, ms(ttl)) end
  return entry
end
-- Publishes a revocation and, given the log key (nil on a cluster), logs it (the message then carries its seq).
local function announce(channel, log, kind, id, at, expiresAt, reason, detail)
  local message = event(kind, id, at, expiresAt, reason, detail)
  if log then message = logEvent(log, message, at, expiresAt) end
  redis.call('PUBLISH', channel, message)
end
local function revoke(key, id, at, revExp, reason, channel, retainMs, log, detail)
  redis.call('HSET', key, 'revokedAt', at, 'revokeReason', reason, 'revokeDetail', detail or '')
  redis.call('PEXPIRE', key, retainMs)
  announce(channel, log, 'session', id, at, revExp, reason, detail)
end
local function active(f, now)
  return f[1] == '' and num(f[2]) > now and num(f[3]) > now
end
-- f: revokedAt, expiresAt, idleExpiresAt. When the session ended (or ends).
local function endOf(f)
  local at = math.min(num(f[2]), num(f[3]))
  if f[1] ~= '' and f[1] ~= false then at = math.min(at, num(f[1])) end
  return at
end
-- A user's sessions are in one of two sorted sets: the index (KEYS of the user's 'u:', scored by
-- creation; what logins and the device list walk, and all that versions before 0.3 knew) and the
-- ended ones set apart ('e:', scored by their end). Moves a session that ended to the second.
local function setApart(index, ended, id, endedAt, ttl)
  redis.call('ZREM', index, id)
  redis.call('ZADD', ended, ms(endedAt), id)
  if redis.call('PTTL', ended) < num(ttl) then redis.call('PEXPIRE', ended, ttl) end
end
-- Deletes the ended sessions but the 'keep' most recently ended, keys and entries.
local function prune(ended, prefix, keep)
  local over = redis.call('ZCARD', ended) - num(keep)
  if over <= 0 then return end
  for _, id in ipairs(redis.call('ZRANGE', ended, 0, over - 1)) do redis.call('DEL', prefix .. id) end
  redis.call('ZREMRANGEBYRANK', ended, 0, over - 1)
end
`;
