"""What a queue hands out: :class:`Message` and the :class:`QueueStats` snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgekit._snapshot import Snapshot

__all__ = ["Message", "QueueStats"]


@dataclass(slots=True)
class Message:
    """A message leased from (or peeked in) a :class:`~edgekit.sync.SyncQueue`.

    Attributes:
        id: The queue's id of the message (an increasing integer).
        payload: The bytes that were put.
        topic: The topic it was put on.
        priority: Its priority (higher is delivered first).
        key: The idempotency key it was put with, or None.
        headers: The headers it was put with.
        attempt: How many times it has been delivered, this delivery included.
        created: When it was put (seconds since the epoch).
        lease_token: Identifies this lease (0 when peeked); ``ack`` of a Message whose
            lease expired and was given to another consumer is ignored.
        queue_id: The id of the queue that holds it (stable for the queue's life).
        dead_reason: Why it became a dead letter (``dead_letters()`` only; None
            elsewhere, and for dead letters stored before reasons were recorded).
        last_error: The last delivery error given for it (``dead_letters()`` only).
        dead_at: When it became a dead letter, seconds since the epoch
            (``dead_letters()`` only).
    """

    id: int
    payload: bytes
    topic: str
    priority: int = 0
    key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 0
    created: float = 0.0
    lease_token: int = 0
    queue_id: str = ""
    dead_reason: str | None = None
    last_error: str | None = None
    dead_at: float | None = None
    # The key of the lease's entry in the timers index (set by lease), for ack.
    _lease_key: bytes = field(default=b"", init=False, repr=False, compare=False)

    @property
    def dedup_id(self) -> str:
        """A globally unique id for upstream deduplication: the key, else queue id and id."""
        return self.key if self.key is not None else f"{self.queue_id}-{self.id}"

    @property
    def lease_deadline(self) -> float:
        """When the lease expires and the message is redelivered (seconds since the epoch)."""
        return self.lease_token / 1e6


@dataclass(frozen=True)
class QueueStats(Snapshot):
    """A snapshot of a queue's state (a table in Jupyter).

    Attributes:
        depth: Messages not yet acked or dead (ready + delayed + in flight).
        ready: Messages that can be leased now.
        delayed: Nacked messages waiting for their retry time.
        in_flight: Leased messages not yet acked.
        dead: Dead letters.
        stored_bytes: Bytes stored for all messages, dead letters included (after
            compression).
        max_bytes: The queue's bound in bytes, or None.
        evicted: Messages dropped by the eviction policy since the queue was created.
        evicted_bytes: Bytes dropped by the eviction policy.
        oldest_age_s: Age in seconds of the oldest stored message, or None if empty.
        topics: Per topic, (live messages, bytes).
        map_size_bytes: The LMDB map size in bytes.
        group_commits: Commits this ``SyncQueue`` led under ``durability="power"``
            (one fsync each), since it was opened.
        group_commit_puts: The puts those commits carried (``group_commit_puts /
            group_commits`` puts per fsync).
    """

    depth: int
    ready: int
    delayed: int
    in_flight: int
    dead: int
    stored_bytes: int
    max_bytes: int | None
    evicted: int
    evicted_bytes: int
    oldest_age_s: float | None
    topics: dict[str, tuple[int, int]]
    map_size_bytes: int
    group_commits: int
    group_commit_puts: int
