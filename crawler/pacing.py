"""Pacing of the archive endpoints from a fixed schedule, so the fetch rate reaches its limit.

Reads ``POLICYTRAIL_PACED_SLOTS`` (``["cdx", "replay"]``): the download slots paced this way.

Scrapy's downloader spaces a slot's requests ``delay`` seconds after the previous one was *actually*
sent. A timer that fires late (the reactor was busy parsing, storing, logging) pushes every later
request back by that much, so on a loaded machine the lag accumulates and the rate falls short of
the limit (about 7 ms per interval: 94% of 8/s). ``PacedDownloader`` instead spaces the requests of
the paced slots from the previous *due* time: a late send does not move the next one. After an
idle gap (or any send later than half an interval) the schedule restarts from now, so there is no
catch-up burst: a send is never due before the previous due time plus the interval, and never sent
more than half an interval after its due time, so any window of one interval holds at most two
sends, and any window of one second at most ``rate + 1``.

The slot's ``lastseen`` holds the last *due* time, so whatever pushes ``lastseen`` into the future
(``ArchiveBackoffMiddleware.pause_slot`` after a live 429) still pauses the slot exactly as with
Scrapy's own pacing: the next request goes ``delay`` after it. Slots without a delay (the
distributed workers, paced by the cluster-wide limiter in Redis) or with jitter, and every other
slot, keep Scrapy's behaviour.

``next_due`` is the schedule; ``PacedDownloader`` replaces only ``Downloader._process_queue``
(tests/test_pacing.py pins the Scrapy code it stands in for).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro

PACED_SLOTS = ("cdx", "replay")


def wait_before_send(last_due: float, interval: float, now: float) -> float:
    """Seconds until the next request is due (0: it may go now)."""
    return max(0.0, last_due + interval - now)


def next_due(last_due: float, interval: float, now: float) -> float:
    """The due time of a request sent at ``now``, the previous one having been due at ``last_due``.

    On schedule or a little late (less than half an interval): ``last_due + interval``, so the
    lateness is not passed on to the next request. Later than that (an idle gap, a long stall):
    ``now``, a fresh schedule, so requests that waited are not sent in a burst to catch up.
    """
    due = last_due + interval
    return due if now - due < interval / 2 else now


def is_paced(slots: Mapping[str, Slot], slot: Slot, keys: Iterable[str] = PACED_SLOTS) -> bool:
    """Whether ``slot`` is one of ``keys`` in ``slots``, with a delay and no jitter."""
    if slot.delay <= 0 or slot.jitter:
        return False
    return any(slots.get(key) is slot for key in keys)


class PacedDownloader(Downloader):
    """Scrapy's downloader, with the ``POLICYTRAIL_PACED_SLOTS`` slots paced by ``next_due``."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.paced_keys = tuple(
            crawler.settings.getlist("POLICYTRAIL_PACED_SLOTS", list(PACED_SLOTS))
        )

    def _process_queue(self, slot: Slot) -> None:
        if not is_paced(self.slots, slot, self.paced_keys):
            super()._process_queue(slot)
            return
        if slot.latercall:
            return  # a timer is armed: it calls back here when the next request is due
        now = monotonic()
        wait = wait_before_send(slot.lastseen, slot.delay, now)
        if wait > 0:
            if slot.queue:
                slot.latercall = call_later(wait, self._latercall, slot)
            return
        if slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = next_due(slot.lastseen, slot.delay, now)
            request, queue_dfd = slot.queue.popleft()
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            self._process_queue(slot)  # arms the timer for the next one, if any is waiting
