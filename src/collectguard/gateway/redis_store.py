"""Redis state for several gateway replicas: sliding-window counters as sorted sets (score =
attempt time), checked and reserved by one Lua script so that replicas never overshoot a cap.

Owns the key layout (prefix `cg:gw:`) and the scripts. Connection errors and timeouts raise
`StoreUnavailable` (the service denies: fail closed).

Profiles are cached per replica, so a decision usually costs one round trip: the script that
stores it also checks that the debtor's profile is still the one the decision was planned
with (its SHA-1), and otherwise answers with the current profile (`ProfileChanged`: the
service plans again). A profile saved by another replica therefore takes effect on the very
next decision, never later.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError, RedisError

from collectguard.gateway.core import CapCheck, outcome_effects
from collectguard.gateway.models import ContactProfile, Outcome
from collectguard.gateway.store import (
    Attempt,
    Journal,
    Loaded,
    OnCap,
    ProfileChanged,
    ProfileSeen,
    ReserveResult,
    StoreUnavailable,
    UnknownAttempt,
)

# Shared by both scripts: KEYS[p] is the debtor's profile key and ARGV[v] the SHA-1 of the
# profile the decision was planned with ('-': none; '': no check).
_PROFILE_CHECK = """
if ARGV[{v}] ~= '' then
  local cur = redis.call('GET', KEYS[{p}])
  local got = '-'
  if cur then got = redis.sha1hex(cur) end
  if got ~= ARGV[{v}] then
    if cur then return {{'stale', cur}} end
    return {{'stale'}}
  end
end
"""

# KEYS[1] = decision key, KEYS[2] = attempt key, KEYS[3] = profile key,
# KEYS[4..] = window keys (one per check)
# ARGV: decision_json, attempt_json, member, score, force, ttl_s, n, profile sha1, then per
#       check: min, max, limit, add
_RESERVE = (
    """
local prev = redis.call('GET', KEYS[1])
if prev then return {'replay', prev} end
"""
    + _PROFILE_CHECK.format(p=3, v=8)
    + """
local n = tonumber(ARGV[7])
local force = ARGV[5] == '1'
local score = tonumber(ARGV[4])
local ttl = tonumber(ARGV[6])
if not force then
  for i = 1, n do
    local base = 8 + (i - 1) * 4
    local k = KEYS[3 + i]
    local cnt = redis.call('ZCOUNT', k, ARGV[base + 1], '(' .. ARGV[base + 2])
    if cnt >= tonumber(ARGV[base + 3]) then
      local found = redis.call('ZRANGEBYSCORE', k, ARGV[base + 1], '(' .. ARGV[base + 2],
                               'WITHSCORES')
      local scores = {}
      for j = 2, #found, 2 do scores[#scores + 1] = found[j] end
      return {'cap', tostring(i), cjson.encode(scores)}
    end
  end
end
for i = 1, n do
  local base = 8 + (i - 1) * 4
  if ARGV[base + 4] == '1' then
    local k = KEYS[3 + i]
    redis.call('ZADD', k, score, ARGV[3])
    redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. tostring(score - ttl))
    redis.call('EXPIRE', k, ttl)
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ttl)
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
return {'reserved'}
"""
)

# KEYS[1] = decision key, KEYS[2] = profile key; ARGV: decision_json, ttl_s, profile sha1
_REMEMBER = (
    """
local prev = redis.call('GET', KEYS[1])
if prev then return {'replay', prev} end
"""
    + _PROFILE_CHECK.format(p=2, v=3)
    + """
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return {'stored'}
"""
)

_CACHED_PROFILES = 100_000
"""Profiles a replica keeps (then it starts afresh): about 1 KB each."""


def _sha1(raw: str | None) -> str:
    return hashlib.sha1(raw.encode("utf-8")).hexdigest() if raw is not None else "-"


class RedisStateStore:
    """State in Redis; `url` like redis://127.0.0.1:6379/0."""

    PREFIX = "cg:gw:"
    TTL_S = 40 * 86400  # longer than the longest window (7 days) and a month of replays

    def __init__(self, url: str, *, timeout_s: float = 0.5) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            decode_responses=True,
        )
        self._reserve = self.client.register_script(_RESERVE)
        self._remember = self.client.register_script(_REMEMBER)
        self._local = threading.local()  # each thread's kept connection for the scripts
        # debtor id → (SHA-1 of the stored JSON, profile): see the module docstring
        self._profiles: dict[str, tuple[str, ContactProfile | None]] = {}

    def _run_script(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA on a connection this thread keeps (loading the script when Redis lost it).

        A decision's one round trip: redis-py's command layer (pool checkout and release,
        retry and observability wrappers) costs about as much CPU as the round trip itself,
        so the hot scripts go straight to a connection of the client's pool, which
        reconnects by itself after an error. Errors are redis-py's (`RedisError`)."""
        local = self._local
        conn: AbstractConnection | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():  # first use, or a forked child
            conn = local.conn = self.client.connection_pool.get_connection()
            local.pid = os.getpid()
        send = conn.send_command  # untyped in redis-py
        try:
            send("EVALSHA", script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
            return conn.read_response()
        except NoScriptError:  # e.g. Redis restarted: load it again, once
            script.sha = self.client.script_load(script.script)
            send("EVALSHA", script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
            return conn.read_response()
        except RedisError:
            conn.disconnect()  # type: ignore[no-untyped-call]  # no half-read reply kept
            raise

    def _k(self, kind: str, ident: str) -> str:
        return f"{self.PREFIX}{kind}:{ident}"

    def get_decision(self, idem_key: str) -> dict[str, Any] | None:
        try:
            raw = self.client.get(self._k("decision", idem_key))
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return json.loads(raw) if raw is not None else None

    def load(self, idem_key: str, debtor_id: str | None) -> Loaded:
        """The debtor's profile from this replica's cache (no round trip; a replay is found
        by the script that stores the decision), else the decision and profile from Redis."""
        if debtor_id is not None:
            cached = self._profiles.get(debtor_id)
            if cached is not None:
                return Loaded(None, cached[1], cached[0])
        keys = [self._k("decision", idem_key)]
        if debtor_id is not None:
            keys.append(self._k("profile", debtor_id))
        try:
            raw = self.client.mget(keys)
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        decision = json.loads(raw[0]) if raw[0] is not None else None
        if debtor_id is None:
            return Loaded(decision, None)
        stored = raw[1]
        assert stored is None or isinstance(stored, str)  # decode_responses=True
        version, prof = self._cache(debtor_id, stored)
        return Loaded(decision, prof, version)

    def _cache(self, debtor_id: str, raw: str | None) -> tuple[str, ContactProfile | None]:
        prof = ContactProfile.model_validate_json(raw) if raw is not None else None
        if len(self._profiles) >= _CACHED_PROFILES:
            self._profiles.clear()
        entry = self._profiles[debtor_id] = (_sha1(raw), prof)
        return entry

    def _check_args(self, profile: ProfileSeen) -> tuple[str, str]:
        """(profile key, expected SHA-1) for the scripts; ('', '') asks for no check."""
        if profile is None:
            return self._k("profile", ""), ""
        debtor_id, version = profile
        return self._k("profile", debtor_id), version or ""

    def _stale(self, profile: ProfileSeen, res: list[Any]) -> ProfileChanged:
        """The script found another profile: keep it (the next `load` plans with it)."""
        assert profile is not None
        self._cache(profile[0], res[1] if len(res) > 1 else None)
        return ProfileChanged(profile[0])

    def remember(
        self,
        idem_key: str,
        decision: dict[str, Any],
        journal: Journal | None = None,
        *,
        profile: ProfileSeen = None,
    ) -> dict[str, Any]:
        key = self._k("decision", idem_key)
        pkey, expected = self._check_args(profile)
        try:
            res = self._run_script(
                self._remember, [key, pkey], [json.dumps(decision), self.TTL_S, expected]
            )
            if res[0] == "replay":
                replayed: dict[str, Any] = json.loads(res[1])
                return replayed
            if res[0] == "stale":
                raise self._stale(profile, res)
            if journal is not None:
                try:
                    journal(decision, None)
                except Exception:
                    self.client.delete(key)
                    raise
            return decision
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def reserve(
        self,
        idem_key: str,
        decision: dict[str, Any],
        checks: Sequence[CapCheck],
        attempt: Attempt,
        *,
        force: bool = False,
        journal: Journal | None = None,
        on_cap: OnCap | None = None,
        profile: ProfileSeen = None,
    ) -> ReserveResult:
        pkey, expected = self._check_args(profile)
        keys = [self._k("decision", idem_key), self._k("attempt", attempt.attempt_id), pkey]
        keys += [self._k("w", c.key) for c in checks]
        argv: list[str | float | int] = [
            json.dumps(decision),
            attempt.to_json(),
            attempt.attempt_id,
            repr(attempt.score),
            "1" if force else "0",
            self.TTL_S,
            len(checks),
            expected,
        ]
        for c in checks:
            argv += [repr(c.min_score), repr(c.max_score), c.limit, "1" if c.add else "0"]
        try:
            res = self._run_script(self._reserve, keys, argv)
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        if res[0] == "replay":
            return ReserveResult("replay", json.loads(res[1]))
        if res[0] == "stale":
            raise self._stale(profile, res)
        if res[0] == "cap":
            chk = checks[int(res[1]) - 1]
            raw_scores = json.loads(res[2])
            scores = tuple(float(s) for s in (raw_scores or []))
            if on_cap is None:
                return ReserveResult("cap", failed=chk, scores=scores)
            # no shared transaction in Redis: stored like `remember` (the first key wins)
            stored = self.remember(idem_key, on_cap(chk, scores), journal)  # checked above
            return ReserveResult("cap", stored, failed=chk, scores=scores)
        if journal is not None:
            try:
                journal(decision, None)  # after the script: Redis has no shared transaction
            except Exception:
                self._undo(keys, attempt.attempt_id)
                raise
        return ReserveResult("reserved", decision)

    def _undo(self, keys: list[str], member: str) -> None:
        """Take back a reservation whose log entry could not be written (best effort)."""
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(keys[0], keys[1])
            for k in keys[2:]:
                pipe.zrem(k, member)
            pipe.execute()
        except RedisError:
            pass

    def record_outcome(self, attempt_id: str, outcome: Outcome) -> Attempt:
        akey = self._k("attempt", attempt_id)
        try:
            raw = self.client.get(akey)
            if raw is None:
                raise UnknownAttempt(attempt_id)
            att = Attempt.from_json(raw)
            pipe = self.client.pipeline(transaction=True)
            for effect, key in outcome_effects(att.keys, outcome):
                if effect == "remove":
                    pipe.zrem(self._k("w", key), attempt_id)
                elif effect == "add":
                    pipe.zadd(self._k("w", key), {attempt_id: att.score})
                    pipe.expire(self._k("w", key), self.TTL_S)
            new = Attempt(att.attempt_id, att.score, att.keys, outcome)
            pipe.set(akey, new.to_json(), ex=self.TTL_S)
            pipe.execute()
            return new
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def get_profile(self, debtor_id: str) -> ContactProfile | None:
        try:
            raw = self.client.get(self._k("profile", debtor_id))
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return ContactProfile.model_validate_json(raw) if raw is not None else None

    def put_profile(self, debtor_id: str, profile: ContactProfile) -> None:
        raw = profile.model_dump_json()
        try:
            self.client.set(self._k("profile", debtor_id), raw)
        except RedisError as exc:
            self._profiles.pop(debtor_id, None)
            raise StoreUnavailable(f"redis: {exc}") from exc
        self._cache(debtor_id, raw)

    def ping(self) -> None:
        try:
            self.client.ping()
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.disconnect()
            self._local.conn = None
        self.client.close()
