"""Counting booking attempts in the release rush without writing a row per attempt.

The share of attempts that get a place in the release minute (抢号成功率) needs the refused
attempts too, and those never touch a table. So every attempt only increments cache counters
(`count_attempt`: atomic INCR, no SQL, no lock the booking waits on), keyed by schedule and
wall-clock minute; a Celery beat job (analytics.tasks) takes them with `drain_counts` and adds
them to a table.

Enumerating cache keys is not portable, so the first attempt of a (schedule, minute) also
registers the schedule under its minute: a per-minute counter plus one entry per schedule.
`drain_counts` walks the minutes since its cursor, reads each pair's counters and takes exactly
what it read off them (DECR by that amount), so increments that race with a drain stay for the
next one. The cursor only passes minutes that are settled (no attempt of them can still be in
flight). Drains are serialised by a cache lock; a drain whose write fails gives its counts back
(`restore_counts`). Counters live `COUNTER_TTL`: a drain job stopped longer than that loses them.
The counters need a shared cache (Redis through CACHE_URL in production): the default
per-process locmem cache counts each web process on its own and a separate worker drains none
of them; a database cache would turn every attempt back into SQL.
"""

import functools
import logging
import time
from dataclasses import dataclass

from django.core.cache import cache

from booking import errors
from hospital.channels import Channel

logger = logging.getLogger(__name__)

COUNTER_TTL = 3 * 24 * 3600
DRAIN_LOCK_TTL = 120
PREFIX = "booking:attempts"
CURSOR = f"{PREFIX}:cursor"
DRAIN_LOCK = f"{PREFIX}:draining"
# A minute is settled (no attempt of it can still be in flight) this many minutes after it ends.
SETTLE_MINUTES = 2


@dataclass(frozen=True)
class AttemptCount:
    schedule_id: int
    minute: int  # whole minutes since the Unix epoch (UTC)
    attempts: int
    won: int


def _keys(schedule_id: int, minute: int) -> tuple[str, str]:
    return f"{PREFIX}:{schedule_id}:{minute}:n", f"{PREFIX}:{schedule_id}:{minute}:won"


def _increment(key: str, by: int = 1) -> bool:
    """INCR `key`, creating it if missing; True if this call created it."""
    try:
        cache.incr(key, by)
        return False
    except ValueError:  # missing (Django's caches raise ValueError for INCR of an absent key)
        if cache.add(key, by, COUNTER_TTL):
            return True
        cache.incr(key, by)
        return False


def _register(schedule_id: int, minute: int) -> None:
    """Note that `schedule_id` has counters for `minute` (called once per pair: by whoever created them)."""
    count_key = f"{PREFIX}:minute:{minute}"
    cache.add(count_key, 0, COUNTER_TTL)
    index = cache.incr(count_key)
    cache.set(f"{count_key}:{index}", schedule_id, COUNTER_TTL)


def count_attempt(*, schedule_id: int, won: bool, now: float | None = None) -> None:
    """One booking attempt on a schedule, won or refused. Cache operations only: safe in the rush."""
    minute = int((time.time() if now is None else now) // 60)
    attempts_key, won_key = _keys(schedule_id, minute)
    if _increment(attempts_key):
        _register(schedule_id, minute)
    if won:
        _increment(won_key)


# The sold-out mark's refusal and its count in one round trip: read the mark (the session's id)
# and, if there is one, step that session's counter for the minute if it exists. A counter that
# does not exist yet is created and registered by count_attempt, as for any first attempt.
MARK_AND_COUNT = (
    "local schedule = redis.call('GET', KEYS[1]) if not schedule then return false end "
    "local counter = ARGV[1] .. schedule .. ARGV[2] "
    "if redis.call('EXISTS', counter) == 1 then redis.call('INCRBY', counter, 1) return {schedule, 1} end "
    "return {schedule, 0}"
)


def read_mark_and_count(*, mark_key: str, now: float) -> int | None:
    """The session id a slot's sold-out mark (`mark_key`, booking.places) holds, or None; with a
    mark, this attempt is counted as refused. One script call on Redis, a read and a count elsewhere."""
    minute = int(now // 60)
    head, tail = cache.make_key(f"{PREFIX}:"), f":{minute}:n"
    if hasattr(cache, "run_script") and cache.make_key(_keys(0, minute)[0]) == f"{head}0{tail}":
        found = cache.run_script(MARK_AND_COUNT, [mark_key], [head, tail])
        if found is None:
            return None
        schedule_id, counted = int(found[0]), found[1]
    else:
        schedule_id, counted = cache.get(mark_key), False
        if schedule_id is None:
            return None
    if not counted:
        try:
            count_attempt(schedule_id=schedule_id, won=False, now=now)
        except Exception:  # the refusal stands (the mark was read); only its count is lost
            logger.warning("refused attempt on schedule %s not counted", schedule_id, exc_info=True)
    return schedule_id


def counted(book):
    """Decorates `booking.services.book_slot`: each online attempt is counted once its outcome is known.

    A returned appointment is a win, `SlotFull` (which names its session) a refusal, unless it was
    counted already with the sold-out mark's read; any other refusal (not released yet, a limit,
    a ban) is not a race for a place and is not counted.
    Staff and partner channels are not the patients' rush and are not counted either.
    """

    @functools.wraps(book)
    def counting(*args, channel=Channel.ONLINE, **kwargs):
        if channel != Channel.ONLINE:
            return book(*args, channel=channel, **kwargs)
        at = kwargs["now"].timestamp() if kwargs.get("now") else None
        try:
            appointment = book(*args, channel=channel, **kwargs)
        except errors.SlotFull as refused:
            if refused.schedule_id is not None and not refused.counted:
                count_attempt(schedule_id=refused.schedule_id, won=False, now=at)
            raise
        count_attempt(schedule_id=appointment.schedule_id, won=True, now=at)
        return appointment

    return counting


def drain_counts(*, now: float | None = None) -> list[AttemptCount]:
    """Take every counted attempt off the counters and return them (empty if another drain runs)."""
    if not cache.add(DRAIN_LOCK, 1, DRAIN_LOCK_TTL):
        return []
    try:
        return _drain(current_minute=int((time.time() if now is None else now) // 60))
    finally:
        cache.delete(DRAIN_LOCK)


def _drain(*, current_minute: int) -> list[AttemptCount]:
    oldest = current_minute - COUNTER_TTL // 60
    cursor = max(cache.get(CURSOR, oldest), oldest)
    minutes = range(cursor + 1, current_minute + 1)
    registered = cache.get_many([f"{PREFIX}:minute:{minute}" for minute in minutes])
    drained = []
    for minute in minutes:
        count_key = f"{PREFIX}:minute:{minute}"
        schedules = cache.get_many([f"{count_key}:{index}" for index in range(1, registered.get(count_key, 0) + 1)])
        for schedule_id in schedules.values():
            attempts_key, won_key = _keys(schedule_id, minute)
            counts = cache.get_many([attempts_key, won_key])
            attempts, won = counts.get(attempts_key, 0), counts.get(won_key, 0)
            if attempts:
                cache.decr(attempts_key, attempts)
            if won:
                cache.decr(won_key, won)
            if attempts or won:
                drained.append(AttemptCount(schedule_id=schedule_id, minute=minute, attempts=attempts, won=won))
    settled = current_minute - SETTLE_MINUTES - 1
    if settled > cursor:
        cache.set(CURSOR, settled, None)
    return drained


def restore_counts(counts: list[AttemptCount]) -> None:
    """Give drained counts back to the counters (the write that should have kept them failed).

    They go back to their own minute (the release minute must stay the release minute), and the
    cursor is moved back before the oldest of them so the next drain walks those minutes again.
    """
    if not counts:
        return
    cursor = cache.get(CURSOR)
    oldest = min(count.minute for count in counts)
    if cursor is not None and cursor >= oldest:
        cache.set(CURSOR, oldest - 1, None)
    for count in counts:
        attempts_key, won_key = _keys(count.schedule_id, count.minute)
        if count.attempts and _increment(attempts_key, count.attempts):
            _register(count.schedule_id, count.minute)
        if count.won:
            _increment(won_key, count.won)
