"""mDNS/DNS-SD discovery and announcement on python-zeroconf.

:class:`MdnsScanner` browses every service type on the link (through the
``_services._dns-sd._udp.local.`` meta-query) or the types given, resolves each
service to addresses, port and TXT record, and keeps resolving until every
service seen is complete: a service whose resolution times out is queried again
with backoff, so a burst of announcements does not leave services half-known.
Changes arrive as :class:`MdnsEvent` (``added``, ``updated``, ``removed``; the
last on a goodbye packet or the real TTL expiry of the service's records, never
on a record evicted from a full cache). The zeroconf record cache is trimmed to
a bound sized from the services tracked (or the host's ``max_cache_records``),
evicting records of untracked names first, and the service table to
``max_services``, so a peer that floods the link with records cannot grow memory
without bound.

:class:`MdnsAdvertiser` announces the host's own service.

zeroconf is imported when a scanner starts (extra ``mdns``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import random
import re
import socket
import time
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edgekit._aio import call_in_thread, run_sync
from edgekit.errors import BackendUnavailableError, InvalidInputError, ScanError, ScanWarning
from edgekit.scan._aio import Fanout, run_on_loop

__all__ = [
    "META_QUERY",
    "SETTLED_SCAN_S",
    "MdnsAdvertiser",
    "MdnsEvent",
    "MdnsScanner",
    "MdnsService",
    "scan_mdns",
]

#: The DNS-SD meta-query that enumerates service types on the link.
META_QUERY = "_services._dns-sd._udp.local."

TxtValue = str | bytes | None

#: Smallest automatic cache bound, in records.
_AUTO_CACHE_MIN = 4096
#: Records kept per tracked service by the automatic bound (PTR, SRV, TXT, A, AAAA, NSEC...).
_RECORDS_PER_SERVICE = 8
#: SRV TTL assumed when a resolved service's SRV record is not in the cache (RFC 6762: 120 s), ms.
_DEFAULT_SRV_TTL_MS = 120_000.0
#: Seconds between the first two query rounds; each later interval doubles (RFC 6762 section 5.2).
FIRST_INTERVAL_S = 1.0
#: Longest interval between query rounds, in seconds (RFC 6762 section 5.2 caps it at 60 minutes).
MAX_INTERVAL_S = 3600.0
#: Seconds a round's answers may take: responders wait 20-120 ms, and up to 500 ms
#: more to aggregate answers (RFC 6762 section 6).
ANSWER_WINDOW_S = 0.5
#: Query rounds in a row that must bring nothing new before a scan is settled.
QUIET_ROUNDS = 2
#: Seconds a scan takes to settle when everything answers the first round: rounds at
#: about 0.07 s, 1.07 s and 3.07 s, plus the last one's answer window.
SETTLED_SCAN_S = 0.07 + FIRST_INTERVAL_S + 2 * FIRST_INTERVAL_S + ANSWER_WINDOW_S


def _zeroconf_cap() -> int | None:
    """zeroconf's own bound on its cache (``const._MAX_CACHE_RECORDS``), if it has one."""
    from zeroconf import const

    cap = getattr(const, "_MAX_CACHE_RECORDS", None)
    return int(cap) if isinstance(cap, int) else None


@dataclass(frozen=True)
class MdnsService:
    """A resolved DNS-SD service instance.

    Attributes:
        name: full instance name (``Kitchen._googlecast._tcp.local.``).
        type: service type (``_googlecast._tcp.local.``).
        server: host name of the SRV target (``kitchen.local.``).
        addresses: IPv4/IPv6 addresses as strings.
        port: TCP/UDP port.
        txt: TXT record; values decoded to str where valid UTF-8, bytes
            otherwise, ``None`` for a key without ``=``.
        updated_at: time.time() of the last change, in seconds.
    """

    name: str
    type: str
    server: str | None
    addresses: tuple[str, ...]
    port: int | None
    txt: Mapping[str, TxtValue] = field(default_factory=dict)
    updated_at: float = 0.0

    @property
    def instance(self) -> str:
        """The instance label (the name without the service type)."""
        suffix = "." + self.type
        return self.name[: -len(suffix)] if self.name.endswith(suffix) else self.name

    def _key(self) -> tuple[Any, ...]:
        return (self.server, self.addresses, self.port, tuple(sorted(self.txt.items())))


@dataclass(frozen=True)
class MdnsEvent:
    """A change seen by :class:`MdnsScanner`: ``kind`` is added, updated or removed."""

    kind: Literal["added", "updated", "removed"]
    service: MdnsService


def _decode_txt(properties: Mapping[bytes, bytes | None]) -> dict[str, TxtValue]:
    out: dict[str, TxtValue] = {}
    for key, value in properties.items():
        name = key.decode("utf-8", "replace")
        if value is None:
            out[name] = None
            continue
        try:
            out[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            out[name] = bytes(value)
    return out


def _interfaces(interfaces: Sequence[str] | str) -> tuple[Any, Any]:
    try:
        from zeroconf import InterfaceChoice, IPVersion
    except ImportError as exc:
        raise BackendUnavailableError("zeroconf", extra="mdns") from exc
    if interfaces == "all":
        return InterfaceChoice.All, IPVersion.V4Only
    if interfaces == "default":
        return InterfaceChoice.Default, IPVersion.V4Only
    if isinstance(interfaces, str):
        interfaces = [interfaces]
    chosen = list(interfaces)
    try:
        versions = {ipaddress.ip_address(i).version for i in chosen}
    except ValueError as exc:
        raise InvalidInputError(
            f"interfaces must be IP addresses, 'all' or 'default': {exc}"
        ) from exc
    if versions == {4}:
        version = IPVersion.V4Only
    elif versions == {6}:
        version = IPVersion.V6Only
    else:
        version = IPVersion.All
    return chosen, version


#: One DNS-SD service label (RFC 6763 section 7, RFC 6335 section 5.1: letters, digits and
#: hyphens; real devices also use underscores and exceed 15 characters, so those pass).
_SERVICE_LABEL = re.compile(r"_[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?")
_SERVICE_TYPE = re.compile(
    rf"(?:(?:{_SERVICE_LABEL.pattern}|[^._][^.]*)\._sub\.)?{_SERVICE_LABEL.pattern}\._(?:tcp|udp)\.local\.",
    re.IGNORECASE,
)


def _normalize_type(service_type: str) -> str:
    """``_http._tcp``, ``_http._tcp.local.`` or a bare ``http`` -> ``_http._tcp.local.``.

    A bare name (one label, with or without its ``_``) means a TCP service, as most
    are; a subtype (``_printer._sub._http._tcp``) is kept.

    Raises:
        InvalidInputError: the text cannot be a DNS-SD service type.
    """
    if not isinstance(service_type, str):
        raise InvalidInputError(f"a service type is a str like '_http._tcp', not {service_type!r}")
    t = service_type.strip()
    if t and "." not in t:
        t = f"{t if t.startswith('_') else '_' + t}._tcp"
    if t.endswith(".local"):
        t += "."
    elif not t.endswith(".local."):
        t = t.rstrip(".") + ".local."
    if not _SERVICE_TYPE.fullmatch(t) or not any(c.isalpha() for c in t.split(".")[-4]):
        raise InvalidInputError(
            f"{service_type!r} is not a DNS-SD service type: give '_name._tcp', '_name._udp'"
            " or a bare name ('http' means '_http._tcp')"
        )
    return t


class MdnsScanner:
    """Browse and resolve DNS-SD services; see the module docstring.

    Use it as an async context manager, or await :meth:`async_start` and :meth:`async_stop`::

        async with MdnsScanner(["_http._tcp"]) as scanner:
            await scanner.async_wait_complete(timeout=3.0)
            print(scanner.services)

    Args:
        service_types: types to browse (``"_http._tcp"`` or the full
            ``"_http._tcp.local."``); ``None`` browses every type announced.
        interfaces: ``"all"``, ``"default"`` or a list of interface IP addresses
            (``["127.0.0.1"]`` keeps traffic on loopback).
        query_timeout: seconds one resolution attempt waits for answers.
        max_services: bound on services tracked (new ones beyond it are counted
            in :attr:`dropped` and ignored).
        max_cache_records: bound on records in zeroconf's cache; ``None`` sizes
            it from the services tracked (8 records each + 1,024, at least
            4,096). zeroconf's own cap (10,000 records in 0.154) is the hard
            bound either way.
        on_event: called (in the event loop) with every :class:`MdnsEvent`.

    The scanner asks its questions (the meta-query and every type browsed) in
    query rounds: the first 20-120 ms after the start, then 1 s, 2 s, 4 s... apart
    (RFC 6762 section 5.2), multicast (QM), with the answers already known
    listed so that responders stay quiet about them. It is :attr:`settled` once
    two rounds in a row brought nothing new and every service seen is resolved.

    :meth:`pause` stops every query (the rounds, zeroconf's browsers, resolutions and
    refreshes; one in flight is asked again on resume) and freezes the ageing of the
    services found: a service is not removed for a TTL that ran out while paused, and on
    :meth:`resume` the rounds and refreshes carry on where they were, their times moved
    on by the pause. The sockets stay open and zeroconf keeps receiving (its cache stays
    bounded); what changed while paused is learnt after the resume, by the queries that
    follow (a service that left while paused goes when its remaining TTL runs out).
    """

    def __init__(
        self,
        service_types: Sequence[str] | None = None,
        *,
        interfaces: Sequence[str] | str = "all",
        query_timeout: float = 1.0,
        max_services: int = 10_000,
        max_cache_records: int | None = None,
        on_event: Callable[[MdnsEvent], object] | None = None,
    ) -> None:
        if isinstance(service_types, str):
            service_types = [service_types]
        self.service_types = (
            None if service_types is None else [_normalize_type(t) for t in service_types]
        )
        if (
            query_timeout <= 0
            or max_services < 1
            or (max_cache_records is not None and max_cache_records < 16)
        ):
            raise InvalidInputError(
                "query_timeout must be > 0, max_services >= 1 and max_cache_records >= 16"
            )
        self.interfaces = interfaces
        self.query_timeout = query_timeout
        self.max_services = max_services
        self.max_cache_records = max_cache_records
        self.on_event = on_event
        self.dropped = 0
        self.evicted = 0
        self._services: dict[str, MdnsService] = {}
        self._pending: dict[str, tuple[str, int, float]] = {}  # name -> (type, attempts, due)
        self._in_flight: set[str] = set()
        #: Names removed (a goodbye) while a resolution of theirs ran: its answer, which
        #: may come from records the goodbye left a second to live, is dropped.
        self._gone: set[str] = set()
        self._fanout: Fanout[MdnsEvent] = Fanout()
        self._types_browsed: set[str] = set()
        self._browsers: list[Any] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._refreshed: dict[str, float] = {}
        self._srv_expiry: dict[str, tuple[float, float]] = {}  # name -> (expires, ttl), ms
        self._checks: list[tuple[float, str]] = []  # heap of (when ms, name); stale ones skipped
        self._next_check: dict[str, float] = {}
        self._hard_cap = _RECORDS_PER_SERVICE * max_services + 1024
        self._aiozc: Any = None
        self._wake: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self._rounds: list[float] = []  # time.monotonic() of the last query rounds sent
        self._round_count = 0
        self._last_change = 0.0  # time.monotonic() of the last new type, service or change
        self._paused = False
        self._querying = False  # the rounds and browsers run (not paused, started)
        self._stopped_at = 0.0  # time.monotonic() when querying stopped for a pause
        self._held: set[str] = set()  # names whose SRV expiry a pause moved on
        self._next_round = (0.0, FIRST_INTERVAL_S)  # (when, interval after it), monotonic s
        self._round_left = (0.0, FIRST_INTERVAL_S)  # (seconds to the next round, interval)
        self._querier_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pause_lock = asyncio.Lock()  # one pause or resume at a time

    # -- public state ------------------------------------------------------------

    @property
    def services(self) -> dict[str, MdnsService]:
        """Resolved services by instance name (a copy)."""
        return dict(self._services)

    @property
    def pending(self) -> set[str]:
        """Names seen but not resolved yet."""
        return set(self._pending) | set(self._in_flight)

    @property
    def rounds(self) -> int:
        """Query rounds sent since the start."""
        return self._round_count

    @property
    def settled(self) -> bool:
        """Whether the answers settled: the last :data:`QUIET_ROUNDS` query rounds brought
        nothing new (their :data:`ANSWER_WINDOW_S` passed) and every service seen is resolved."""
        return self._quiet_rounds(time.monotonic()) >= QUIET_ROUNDS and not self.pending

    def _quiet_rounds(self, now: float) -> int:
        return sum(
            1 for sent in self._rounds if sent > self._last_change and sent + ANSWER_WINDOW_S <= now
        )

    @property
    def paused(self) -> bool:
        """Whether the scanner is paused (:meth:`pause`)."""
        return self._paused

    @property
    def cache_limit(self) -> int:
        """The bound :meth:`trim_cache` keeps zeroconf's cache within, in records."""
        hard = self._hard_cap
        if self.max_cache_records is not None:
            return min(self.max_cache_records, hard)
        tracked = len(self._services) + len(self._pending) + len(self._in_flight)
        return min(hard, max(_AUTO_CACHE_MIN, _RECORDS_PER_SERVICE * tracked + 1024))

    @property
    def cache_size(self) -> int:
        """Records currently in zeroconf's cache."""
        if self._aiozc is None:
            return 0
        return int(self._aiozc.zeroconf.cache._total_records)

    # -- lifecycle ---------------------------------------------------------------

    async def async_start(self) -> None:
        """Open the sockets and start browsing.

        Raises:
            BackendUnavailableError: zeroconf is not installed.
            ScanError: the sockets could not be opened.
        """
        if self._aiozc is not None:
            return
        chosen, version = _interfaces(self.interfaces)
        from zeroconf.asyncio import AsyncZeroconf

        zc_cap = _zeroconf_cap()
        self._hard_cap = _RECORDS_PER_SERVICE * self.max_services + 1024
        if zc_cap is not None:
            self._hard_cap = min(self._hard_cap, zc_cap)
        try:
            self._aiozc = AsyncZeroconf(interfaces=chosen, ip_version=version)
        except OSError as exc:
            raise ScanError(f"mDNS sockets could not be opened: {exc}") from exc
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._rounds.clear()
        self._round_count = 0
        self._note_change()
        self._loop = loop = asyncio.get_running_loop()
        self._pause_lock = asyncio.Lock()
        self._tasks.append(loop.create_task(self._resolver()))
        self._tasks.append(loop.create_task(self._trimmer()))
        self._round_left = (random.uniform(0.02, 0.12), FIRST_INTERVAL_S)  # RFC 6762 5.2
        for t in self.service_types or [META_QUERY]:
            self._browse(t)
        await self._apply_pause()

    async def async_stop(self) -> None:
        """Stop browsing and close the sockets (idempotent)."""
        self._querying = False
        self._stopped_at = 0.0
        tasks = [*self._tasks, *self._running]
        if self._querier_task is not None:
            tasks.append(self._querier_task)
            self._querier_task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._tasks.clear()
        self._running.clear()
        for browser in self._browsers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.async_cancel(), 5.0)
        self._browsers.clear()
        self._types_browsed.clear()
        self._pending.clear()
        self._in_flight.clear()
        self._gone.clear()
        self._srv_expiry.clear()
        self._refreshed.clear()
        self._checks.clear()
        self._next_check.clear()
        self._held.clear()
        if self._aiozc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._aiozc.async_close(), 5.0)
            self._aiozc = None

    async def __aenter__(self) -> MdnsScanner:
        await self.async_start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.async_stop()

    # -- pause -------------------------------------------------------------------

    async def async_pause(self) -> None:
        """Stop sending queries until :meth:`async_resume`; keep the services found and
        freeze their ageing (idempotent; before the start, the scanner starts paused)."""
        self._paused = True
        await self._apply_pause()

    async def async_resume(self) -> None:
        """Query again where the scanner was before :meth:`async_pause` (idempotent)."""
        self._paused = False
        await self._apply_pause()

    def pause(self) -> None:
        """:meth:`async_pause` from any thread: it returns once no query is sent any more
        (called in the scanner's own loop, it returns at once and the stop follows).

        Raises:
            ScanError: the scanner's loop did not stop querying within 15 s.
        """
        self._paused = True
        run_on_loop(self._loop, self._apply_pause, "pausing the mDNS scanner")

    def resume(self) -> None:
        """:meth:`async_resume` from any thread (see :meth:`pause`)."""
        self._paused = False
        run_on_loop(self._loop, self._apply_pause, "resuming the mDNS scanner")

    async def _apply_pause(self) -> None:
        """Make the querying match :attr:`paused` (on the scanner's loop)."""
        async with self._pause_lock:
            await self._apply_pause_locked()

    async def _apply_pause_locked(self) -> None:
        if self._aiozc is None:
            return
        if self._paused and self._querying:
            self._querying = False
            self._stopped_at = time.monotonic()
            when, interval = self._next_round
            self._round_left = (max(when - self._stopped_at, 0.0), interval)
            tasks = list(self._running)
            if self._querier_task is not None:
                tasks.append(self._querier_task)
                self._querier_task = None
            for task in tasks:
                task.cancel()  # a resolution in flight goes back to pending
            if tasks:
                await asyncio.wait(tasks, timeout=5.0)
            browsers, self._browsers = self._browsers, []
            for browser in browsers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.async_cancel(), 5.0)
        elif not self._paused and not self._querying:
            self._querying = True
            if self._stopped_at:
                self._thaw(1000.0 * (time.monotonic() - self._stopped_at))
                self._stopped_at = 0.0
            loop = asyncio.get_running_loop()
            self._querier_task = loop.create_task(self._querier(*self._round_left))
            for service_type in sorted(self._types_browsed):
                self._browsers.append(self._browser(service_type))
            if self._wake is not None:
                self._wake.set()

    def _thaw(self, paused_ms: float) -> None:
        """Move every expiry, refresh and check on by ``paused_ms``: ageing froze while paused."""
        for name, (expires, ttl) in self._srv_expiry.items():
            self._srv_expiry[name] = (expires + paused_ms, ttl)
        self._held.update(self._srv_expiry)
        self._refreshed = {name: at + paused_ms for name, at in self._refreshed.items()}
        self._next_check = {name: at + paused_ms for name, at in self._next_check.items()}
        self._checks = [(when, name) for name, when in self._next_check.items()]
        heapq.heapify(self._checks)

    def _keep_held(self, name: str, fresh: tuple[float, float]) -> tuple[float, float]:
        """The SRV expiry of ``name``: ``fresh`` from the cache, unless a pause moved the
        remembered one later (then that one, until an answer brings a later record)."""
        held = self._srv_expiry.get(name)
        if name in self._held and held is not None and held[0] > fresh[0]:
            return held
        self._held.discard(name)
        return fresh

    def events(self) -> AsyncIterator[MdnsEvent]:
        """Iterate over events from now on (until the scanner stops)."""
        return self._fanout.subscribe()

    async def async_wait_complete(self, timeout: float, *, expected: int | None = None) -> bool:
        """Wait until the scan is :attr:`settled` (or ``expected`` services are resolved).

        A settled scan needs two query rounds after the last new answer: about
        :data:`SETTLED_SCAN_S` (3.6 s) when every responder answers the first round,
        longer when one answers late (each late answer pushes the end past two more
        rounds, 1 s, 2 s, 4 s... apart). Returns whether that happened within
        ``timeout`` seconds; a settled scan may have found nothing.
        """
        deadline = time.monotonic() + timeout
        assert self._changed is not None, "async_start() the scanner first"
        while True:
            now = time.monotonic()
            if expected is not None:
                done = not self.pending and len(self._services) >= expected
            else:
                done = self.settled
            if done:
                return True
            if now >= deadline:
                return False
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(0.05, deadline - now))

    # -- internals ---------------------------------------------------------------

    def _browse(self, service_type: str) -> None:
        if service_type in self._types_browsed or self._aiozc is None:
            return
        self._types_browsed.add(service_type)
        self._note_change()
        if self._querying:
            self._browsers.append(self._browser(service_type))

    def _browser(self, service_type: str) -> Any:
        from zeroconf import DNSQuestionType
        from zeroconf.asyncio import AsyncServiceBrowser

        # QM: zeroconf asks its first question QU, whose unicast answer goes to one
        # of the sockets bound to port 5353 on the querying host, not always ours.
        return AsyncServiceBrowser(
            self._aiozc.zeroconf,
            service_type,
            handlers=[self._on_change],
            question_type=DNSQuestionType.QM,
        )

    def _on_change(self, zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        from zeroconf import ServiceStateChange

        if service_type == META_QUERY:
            if state_change is ServiceStateChange.Added and len(self._types_browsed) < 1000:
                self._browse(name)
            return
        if state_change is ServiceStateChange.Removed:
            if name in self._in_flight:
                self._gone.add(name)
            self._pending.pop(name, None)
            old = self._services.pop(name, None)
            self._forget(name)
            if old is not None:
                self._emit(MdnsEvent("removed", old))
            self._note_change()
            self._signal()
            return
        self._gone.discard(name)  # back: a resolution under way is asked again below
        known = name in self._services or name in self._pending or name in self._in_flight
        tracked = len(self._services) + len(self._pending) + len(self._in_flight)
        if not known and tracked >= self.max_services:
            self.dropped += 1
            return
        if not known:
            self._note_change()
        if name in self._in_flight:  # resolve again once the running attempt ends
            self._pending[name] = (service_type, 0, time.monotonic() + 0.05)
        else:
            self._pending[name] = (service_type, 0, 0.0)
        if self._wake is not None:
            self._wake.set()
        self._signal()

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _note_change(self) -> None:
        """Something new arrived: the rounds sent so far no longer count as quiet."""
        self._last_change = time.monotonic()

    def _emit(self, event: MdnsEvent) -> None:
        self._note_change()
        if self.on_event is not None:
            self.on_event(event)
        self._fanout.publish(event)

    async def _querier(self, delay: float, interval: float) -> None:
        """Send a query round after ``delay`` seconds, then ``interval``, twice that... apart
        (from the start: 20-120 ms, then 1 s, 2 s, 4 s...)."""
        while True:
            self._next_round = (time.monotonic() + delay, interval)
            await asyncio.sleep(delay)
            self._send_round()
            delay, interval = interval, min(2 * interval, MAX_INTERVAL_S)

    def _send_round(self) -> None:
        """Ask for the PTR records of every type browsed (QM, known answers listed)."""
        from zeroconf import (  # type: ignore[attr-defined]  # exported, not in __all__
            DNSOutgoing,
            DNSQuestion,
            const,
            current_time_millis,
        )

        zc = self._aiozc.zeroconf
        now = current_time_millis()
        for name in list(self._types_browsed):
            out = DNSOutgoing(const._FLAGS_QR_QUERY)
            out.add_question(DNSQuestion(name, const._TYPE_PTR, const._CLASS_IN))
            for record in zc.cache.get_all_by_details(name, const._TYPE_PTR, const._CLASS_IN):
                if not record.is_stale(now):  # more than half its TTL left (RFC 6762 7.1)
                    out.add_answer_at_time(record, now)
            zc.async_send(out)  # split into packets with TC set when the answers overflow
        self._round_count += 1
        self._rounds = [*self._rounds[-QUIET_ROUNDS:], time.monotonic()]
        self._signal()

    async def _resolver(self) -> None:
        assert self._wake is not None
        limit = asyncio.Semaphore(64)
        running = self._running
        while True:
            now = time.monotonic()
            next_due = now + 1.0
            pending = [] if self._paused else list(self._pending.items())  # resolved on resume
            for name, (stype, attempts, due) in pending:
                if name in self._in_flight:
                    continue
                if due <= now:
                    self._in_flight.add(name)
                    del self._pending[name]
                    task = asyncio.get_running_loop().create_task(
                        self._resolve(name, stype, attempts, limit)
                    )
                    running.add(task)
                    task.add_done_callback(running.discard)
                else:
                    next_due = min(next_due, due)
            self._wake.clear()
            wait = None if self._paused else max(0.01, next_due - time.monotonic())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _resolve(
        self, name: str, stype: str, attempts: int, limit: asyncio.Semaphore
    ) -> None:
        from zeroconf.asyncio import AsyncServiceInfo

        try:
            async with limit:
                info = AsyncServiceInfo(stype, name)
                ok = await info.async_request(self._aiozc.zeroconf, int(self.query_timeout * 1000))
            if name in self._gone:  # a goodbye arrived meanwhile: the service stays removed
                return
            addresses = tuple(info.parsed_addresses()) if ok else ()
            if ok and addresses and info.port is not None:
                service = MdnsService(
                    name=name,
                    type=stype,
                    server=info.server,
                    addresses=addresses,
                    port=info.port,
                    txt=_decode_txt(info.properties or {}),
                    updated_at=time.time(),
                )
                old = self._services.get(name)
                self._services[name] = service
                self._stamp_srv(name)
                if old is None:
                    self._emit(MdnsEvent("added", service))
                elif old._key() != service._key():
                    self._emit(MdnsEvent("updated", service))
                else:
                    self._services[name] = old
            elif name not in self._pending:
                backoff = min(2.0, 0.1 * (2**attempts))
                self._pending[name] = (stype, attempts + 1, time.monotonic() + backoff)
        except asyncio.CancelledError:
            if self._paused:  # paused mid-resolution: asked again on resume
                self._pending[name] = (stype, attempts, 0.0)
            raise
        except Exception:  # a broken peer must not stop the resolver
            if name not in self._pending and name not in self._gone:
                self._pending[name] = (stype, attempts + 1, time.monotonic() + 1.0)
        finally:
            self._in_flight.discard(name)
            self._gone.discard(name)
            self._signal()
            if self._wake is not None:
                self._wake.set()

    async def _trimmer(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.trim_cache()
            if not self._paused:
                self._maintain()

    def _forget(self, name: str) -> None:
        self._held.discard(name)
        self._srv_expiry.pop(name, None)
        self._refreshed.pop(name, None)
        self._next_check.pop(name, None)

    def _schedule(self, name: str, when: float) -> None:
        self._next_check[name] = when
        heapq.heappush(self._checks, (when, name))

    def _stamp_srv(self, name: str) -> None:
        """Remember when ``name``'s SRV record expires, so that its eviction is not a departure."""
        from zeroconf import const, current_time_millis

        record = self._aiozc.zeroconf.cache.get_by_details(name, const._TYPE_SRV, const._CLASS_IN)
        if record is not None:
            fresh = (record.get_expiration_time(100), record.ttl * 1000.0)
            self._srv_expiry[name] = self._keep_held(name, fresh)
        elif name not in self._srv_expiry:
            now = current_time_millis()
            self._srv_expiry[name] = (now + _DEFAULT_SRV_TTL_MS, _DEFAULT_SRV_TTL_MS)
        expires, ttl = self._srv_expiry[name]
        self._schedule(name, expires - ttl / 2)

    def _maintain(self) -> None:
        """Cache maintenance for resolved services (RFC 6762 section 5.2).

        A service whose SRV record passed half its TTL is queried again (SRV,
        TXT and its host's addresses); one whose SRV record reached its TTL
        without an answer (the host left without a goodbye) is removed. The
        expiry is the one remembered from the last SRV record seen, so a record
        evicted from a full cache is queried again, never read as a departure.
        Only the services due are looked at (a heap of check times), so an idle
        scan of thousands of services costs next to nothing.
        """
        if self._aiozc is None:
            return
        from zeroconf import (  # type: ignore[attr-defined]  # exported, not in __all__
            DNSOutgoing,
            DNSQuestion,
            const,
            current_time_millis,
        )

        zc = self._aiozc.zeroconf
        cache = zc.cache
        now = current_time_millis()
        checks = self._checks
        out = None
        while checks and checks[0][0] <= now:
            when, name = heapq.heappop(checks)
            if self._next_check.get(name) != when:
                continue  # superseded by a later schedule
            service = self._services.get(name)
            if service is None:
                self._forget(name)
                continue
            record = cache.get_by_details(name, const._TYPE_SRV, const._CLASS_IN)
            if record is not None and not record.is_expired(now):
                fresh = (record.get_expiration_time(100), record.ttl * 1000.0)
                expires, ttl = self._srv_expiry[name] = self._keep_held(name, fresh)
            else:
                expires, ttl = self._srv_expiry.get(name, (0.0, 0.0))
            if now >= expires:
                del self._services[name]
                self._forget(name)
                self._emit(MdnsEvent("removed", service))
                self._signal()
                continue
            if now < expires - ttl / 2:  # refreshed: check again once stale
                self._schedule(name, expires - ttl / 2)
                continue
            retry = max(1000.0, ttl / 10)  # query at most every 10 % of the TTL
            last = self._refreshed.get(name, 0.0)
            if now - last >= retry:
                last = self._refreshed[name] = now
                if out is None:
                    out = DNSOutgoing(const._FLAGS_QR_QUERY)
                out.add_question(DNSQuestion(name, const._TYPE_SRV, const._CLASS_IN))
                out.add_question(DNSQuestion(name, const._TYPE_TXT, const._CLASS_IN))
                if service.server:
                    out.add_question(DNSQuestion(service.server, const._TYPE_A, const._CLASS_IN))
            self._schedule(name, min(expires, last + retry))
        if len(checks) > 2 * len(self._next_check) + 64:  # drop superseded entries
            self._checks = [(when, name) for name, when in self._next_check.items()]
            heapq.heapify(self._checks)
        if out is not None:
            zc.async_send(out)

    def trim_cache(self) -> int:
        """Evict records until the cache is within :attr:`cache_limit`; returns how many.

        Records of names the scanner does not track go first (closest to expiry
        first), then, only if that is not enough, the tracked ones. Evicted
        records are counted in :attr:`evicted`.
        """
        if self._aiozc is None:
            return 0
        cache = self._aiozc.zeroconf.cache
        excess = int(cache._total_records) - self.cache_limit
        if excess <= 0:
            return 0
        from zeroconf import const

        names = [*self._services, *self._pending, *self._in_flight, *self._types_browsed]
        names += [s.server for s in self._services.values() if s.server]
        tracked = {n.lower() for n in names}

        def kept(record: Any) -> bool:  # keys are lower case
            if record.type == const._TYPE_PTR:
                return str(record.alias).lower() in tracked
            return str(record.key) in tracked

        items = list(cache._expirations.items())
        loose = [kv for kv in items if not kept(kv[0])]
        victims = heapq.nsmallest(excess, loose, key=lambda kv: kv[1])
        if len(victims) < excess:
            held = [kv for kv in items if kept(kv[0])]
            victims += heapq.nsmallest(excess - len(victims), held, key=lambda kv: kv[1])
        cache.async_remove_records([record for record, _ in victims])
        self.evicted += len(victims)
        return len(victims)


def _warn_if_empty(scanner: MdnsScanner, elapsed_s: float) -> None:
    """Give a :class:`~edgekit.errors.ScanWarning` when ``scanner`` found no service.

    The message says whether the answers had settled (nothing answered: check the
    interface and UDP port 5353) or the scan ended first (scan longer).
    """
    if scanner.services:
        return
    what = (
        "no service"
        if scanner.service_types is None
        else f"no {' or '.join(scanner.service_types)} service"
    )
    if scanner.settled:
        message = (
            f"mDNS found {what}: {scanner.rounds} query rounds on interfaces"
            f" {scanner.interfaces!r} went unanswered; check the interface, and that"
            " UDP port 5353 is open"
        )
    else:
        message = (
            f"mDNS found {what} in {elapsed_s:.1f} s, before its answers settled (a complete"
            f" scan takes about {SETTLED_SCAN_S:.1f} s); scan for longer, e.g. timeout=5"
        )
    warnings.warn(message, ScanWarning, stacklevel=2)


async def _scan_mdns(
    service_types: Sequence[str] | None, timeout: float, interfaces: Sequence[str] | str
) -> list[MdnsService]:
    if timeout <= 0:
        raise InvalidInputError("timeout must be > 0 seconds")
    started = time.monotonic()
    async with MdnsScanner(service_types, interfaces=interfaces) as scanner:
        await scanner.async_wait_complete(timeout)
        _warn_if_empty(scanner, time.monotonic() - started)
        return sorted(scanner.services.values(), key=lambda s: s.name)


def scan_mdns(
    service_types: Sequence[str] | None = None,
    *,
    timeout: float = 5.0,
    interfaces: Sequence[str] | str = "all",
) -> list[MdnsService]:
    """Browse until the answers settle, at most ``timeout`` seconds; return the resolved services.

    A complete scan takes about :data:`SETTLED_SCAN_S` seconds (see
    :meth:`MdnsScanner.async_wait_complete`). Gives a
    :class:`~edgekit.errors.ScanWarning` when nothing was found. Safe inside a
    running event loop (Jupyter): it then runs on a private loop in a helper thread.
    """
    return run_sync(lambda: _scan_mdns(service_types, timeout, interfaces))


def _encode_txt(txt: Mapping[str, TxtValue] | None) -> dict[str, str | bytes | None]:
    return dict(txt or {})


class MdnsAdvertiser:
    """Announce one DNS-SD service of this host.

    Async use: ``await adv.async_start()`` / ``await adv.async_update(txt)`` /
    ``await adv.async_stop()`` (or ``async with``). Sync use (scripts, notebooks):
    ``adv.start()`` / ``adv.update(txt)`` / ``adv.stop()`` (or ``with``); the
    sync form runs zeroconf on its own thread.

    Args:
        name: instance label (``"Kitchen sensor"``).
        service_type: ``"_http._tcp"`` or the full ``"_http._tcp.local."``.
        port: the service port.
        txt: TXT record (str, bytes or ``None`` values).
        addresses: IP addresses to announce; default: the interfaces' first
            address, or 127.0.0.1 when interfaces is ``["127.0.0.1"]``.
        server: host name (``"edge-gw.local."``); default derived from the host name.
        interfaces: as for :class:`MdnsScanner`.
    """

    def __init__(
        self,
        name: str,
        service_type: str,
        port: int,
        *,
        txt: Mapping[str, TxtValue] | None = None,
        addresses: Sequence[str] | None = None,
        server: str | None = None,
        interfaces: Sequence[str] | str = "all",
    ) -> None:
        if not 0 < port < 65536:
            raise InvalidInputError(f"port must be in 1..65535, not {port}")
        if not name or ("." in name and name.endswith(".")):
            raise InvalidInputError(f"{name!r} is not an instance label")
        self.type = _normalize_type(service_type)
        self.name = f"{name}.{self.type}"
        self.port = port
        self.txt = _encode_txt(txt)
        self.interfaces = interfaces
        if addresses is None:
            if isinstance(interfaces, (list, tuple)) and interfaces:
                addresses = list(interfaces)
            else:
                addresses = [_primary_ip()]
        self.addresses = list(addresses)
        host = socket.gethostname().split(".")[0] or "edgekit"
        self.server = server or f"{host}.local."
        self._zc: Any = None
        self._async = False
        self._info: Any = None

    def _service_info(self) -> Any:
        from zeroconf import ServiceInfo

        return ServiceInfo(
            self.type,
            self.name,
            port=self.port,
            properties=self.txt,
            server=self.server,
            parsed_addresses=self.addresses,
        )

    async def async_start(self) -> None:
        """Register the service (probe, then announce) on the running loop."""
        chosen, version = _interfaces(self.interfaces)
        from zeroconf import NonUniqueNameException
        from zeroconf.asyncio import AsyncZeroconf

        try:
            self._zc = AsyncZeroconf(interfaces=chosen, ip_version=version)
            self._async = True
            self._info = self._service_info()
            await (await self._zc.async_register_service(self._info))
        except NonUniqueNameException as exc:
            await self.async_stop()
            raise ScanError(f"{self.name} is already announced on the link") from exc
        except OSError as exc:
            raise ScanError(f"mDNS sockets could not be opened: {exc}") from exc

    async def async_update(self, txt: Mapping[str, TxtValue]) -> None:
        """Replace the TXT record and announce the change."""
        self.txt = _encode_txt(txt)
        self._info = self._service_info()
        await (await self._zc.async_update_service(self._info))

    async def async_stop(self) -> None:
        """Send goodbye packets and close (idempotent)."""
        if self._zc is None:
            return
        with contextlib.suppress(Exception):
            await self._zc.async_unregister_all_services()
        with contextlib.suppress(Exception):
            await self._zc.async_close()
        self._zc = None

    async def __aenter__(self) -> MdnsAdvertiser:
        await self.async_start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.async_stop()

    def start(self) -> None:
        """Register the service from synchronous code (zeroconf runs its own thread)."""
        chosen, version = _interfaces(self.interfaces)
        from zeroconf import NonUniqueNameException, Zeroconf

        def go() -> None:
            self._zc = Zeroconf(interfaces=chosen, ip_version=version)
            self._info = self._service_info()
            try:
                self._zc.register_service(self._info)
            except NonUniqueNameException as exc:
                self._zc.close()
                self._zc = None
                raise ScanError(f"{self.name} is already announced on the link") from exc

        call_in_thread(go)

    def update(self, txt: Mapping[str, TxtValue]) -> None:
        """Replace the TXT record from synchronous code."""
        self.txt = _encode_txt(txt)
        self._info = self._service_info()
        call_in_thread(lambda: self._zc.update_service(self._info))

    def stop(self) -> None:
        """Send goodbye packets and close, from synchronous code (idempotent)."""
        if self._zc is None:
            return
        zc = self._zc

        def go() -> None:
            zc.unregister_all_services()
            zc.close()

        call_in_thread(go)
        self._zc = None

    def __enter__(self) -> MdnsAdvertiser:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _primary_ip() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent
        return str(sock.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        sock.close()
