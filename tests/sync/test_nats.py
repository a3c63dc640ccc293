"""NatsTransport against real nats-server -js: dedup, outage, cluster failover, downlink."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edgekit.errors import TransportError
from edgekit.sync import Backoff, NatsTransport, SyncEngine, SyncQueue
from tests._support.link import Link
from tests._support.servers import NatsServer, free_port


async def stream_messages(url: str | list[str], stream: str) -> list[Any]:
    """Every message stored in a stream, in stream order."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(servers=url if isinstance(url, list) else [url])
    deadline = time.monotonic() + 30  # a stream whose leader moved answers again soon

    async def retry(call: Any) -> Any:
        while True:
            try:
                return await call()
            except NotFoundError:
                raise
            except Exception:  # no responders, timeout: the leader is being elected
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    try:
        js = nc.jetstream()
        info = await retry(lambda: js.stream_info(stream))
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                out.append(await retry(lambda seq=seq: js.get_msg(stream, seq)))
            except NotFoundError:
                continue  # (deleted)
        return out
    finally:
        await nc.close()


def test_publishes_every_message_once_with_msg_id(shared_nats: NatsServer, tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q") as q:
        for i in range(300):
            q.put(b"%d" % i, topic=f"t{i % 3}", key=f"k{i}" if i % 2 else None)
        transport = NatsTransport(
            shared_nats.url, stream="ONCE", subject_prefix="once", create_stream=True
        )
        with SyncEngine(q, transport, batch_size=50) as engine:
            assert engine.sync_now(20) == 300
    msgs = asyncio.run(stream_messages(shared_nats.url, "ONCE"))
    assert len(msgs) == 300
    ids = [m.headers["Nats-Msg-Id"] for m in msgs]
    assert len(set(ids)) == 300 and "k1" in ids
    for k in range(3):
        got = [int(m.data) for m in msgs if m.subject == f"once.t{k}"]
        assert got == sorted(got)


def test_redelivery_after_lost_ack_is_deduplicated(shared_nats: NatsServer, tmp_path: Path) -> None:
    """Publish, 'crash' before the queue ack (lease expires), publish again: stored once."""

    async def scenario() -> None:
        with SyncQueue(tmp_path / "q") as q:
            q.put_many([b"a", b"b", b"c"], topic="dup")
            transport = NatsTransport(
                shared_nats.url, stream="DUP", subject_prefix="dup", create_stream=True
            )
            await transport.async_connect()
            batch = q.lease(10, visibility_timeout=0.05)
            delivery = await transport.async_send(batch)
            assert delivery.acked == [m.id for m in batch]
            # No ack in the queue: as if the process died here.
            await asyncio.sleep(0.1)
            again = q.lease(10)
            assert [m.id for m in again] == [m.id for m in batch]
            delivery = await transport.async_send(again)
            assert delivery.acked == [m.id for m in again]
            q.ack(again)
            await transport.async_close()

    asyncio.run(scenario())
    assert [m.data for m in asyncio.run(stream_messages(shared_nats.url, "DUP"))] == [
        b"a",
        b"b",
        b"c",
    ]


def test_stream_gets_long_duplicate_window(shared_nats: NatsServer) -> None:
    async def scenario() -> float:
        import nats

        transport = NatsTransport(
            shared_nats.url,
            stream="WIN",
            subject_prefix="win",
            create_stream=True,
            duplicate_window=3 * 86400,
        )
        await transport.async_connect()
        await transport.async_close()
        nc = await nats.connect(shared_nats.url)
        info = await nc.jetstream().stream_info("WIN")
        await nc.close()
        return float(info.config.duplicate_window)

    assert asyncio.run(scenario()) == pytest.approx(3 * 86400)


def test_outage_mid_stream_all_arrive_in_order_exactly_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    with SyncQueue(tmp_path / "q") as q:
        transport = NatsTransport(
            nats_server.url, stream="OUT", create_stream=True, ack_timeout=1.0, connect_timeout=0.5
        )
        engine = SyncEngine(
            q, transport, batch_size=20, idle_interval=0.01, reconnect=Backoff(0.05, 0.2)
        )
        engine.start()
        try:
            n = 0

            def put_some(count: int) -> None:
                nonlocal n
                for _ in range(count):
                    q.put(b"%d" % n, topic=f"t{n % 2}")
                    n += 1
                    time.sleep(0.001)

            put_some(150)
            nats_server.stop()
            put_some(150)  # keep putting during the outage
            time.sleep(0.3)
            assert len(q) > 0
            nats_server.start()
            put_some(100)
            engine.sync_now(30)
        finally:
            engine.stop()
    msgs = asyncio.run(stream_messages(nats_server.url, "OUT"))
    assert len(msgs) == 400
    assert len({m.headers["Nats-Msg-Id"] for m in msgs}) == 400
    for k in range(2):
        got = [int(m.data) for m in msgs if m.subject == f"edgekit.t{k}"]
        assert got == sorted(got) == list(range(k, 400, 2))


def test_a_batch_lost_with_its_link_goes_again_before_later_ones(
    shared_nats: NatsServer, tmp_path: Path
) -> None:
    """A link that dies silently, then drops: nats-py does not re-send the batch later
    from its buffer; nothing newer goes out on the next connection until the lost
    batch's PubAck wait is over, so it is sent again first."""
    link = Link(shared_nats.port)

    async def scenario() -> None:
        with SyncQueue(tmp_path / "q") as q:
            q.put_many([b"0", b"1", b"2"], topic="t")
            first, later = q.lease(2), q.lease(1)
            transport = NatsTransport(
                f"nats://127.0.0.1:{link.port}",
                stream="CUT",
                subject_prefix="cut",
                create_stream=True,
                ack_timeout=1.0,
            )
            await transport.async_connect()
            link.drop = True
            lost = await transport.async_publish(first)
            await asyncio.sleep(0.1)
            link.drop = False
            link.cut()
            for _ in range(100):
                if not transport.connected:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # (nats-py would have reconnected by now)
            assert not transport.connected
            await transport.async_connect()  # as the engine, or its downlink, would
            refused = await (await transport.async_publish(later))
            assert refused.failed == [later[0].id] and refused.disconnected
            assert "not confirmed yet" in (refused.error or "")
            delivery = await lost
            assert delivery.failed == [m.id for m in first] and delivery.disconnected
            again = await transport.async_send(first + later)
            assert again.acked == [m.id for m in first + later]
            await transport.async_close()

    try:
        asyncio.run(scenario())
    finally:
        link.close()
    assert [m.data for m in asyncio.run(stream_messages(shared_nats.url, "CUT"))] == [
        b"0",
        b"1",
        b"2",
    ]


@pytest.mark.parametrize("drops", [False, True])
def test_engine_keeps_order_through_a_link_that_goes_silent(
    shared_nats: NatsServer, tmp_path: Path, drops: bool
) -> None:
    """Full pipelines of batches sent into a link that stopped carrying them (then comes
    back, or drops): every message is stored once and each topic in put order."""
    link = Link(shared_nats.port)
    stream = f"SILENT{int(drops)}"
    try:
        with SyncQueue(tmp_path / "q") as q:
            transport = NatsTransport(
                f"nats://127.0.0.1:{link.port}",
                stream=stream,
                subject_prefix=stream.lower(),
                create_stream=True,
                ack_timeout=0.5,
                connect_timeout=0.5,
            )
            engine = SyncEngine(
                q, transport, batch_size=5, pipeline=4, reconnect=Backoff(0.02, 0.05)
            )
            engine.start()
            try:
                for rnd in range(3):
                    q.put_many([b"%d" % (20 * rnd + i) for i in range(0, 20, 2)], topic="t0")
                    q.put_many([b"%d" % (20 * rnd + i) for i in range(1, 20, 2)], topic="t1")
                    if rnd == 0:
                        time.sleep(0.05)
                        link.drop = True  # the batches now on the wire are lost
                    elif rnd == 1:
                        time.sleep(0.2)
                        link.drop = False
                        if drops:
                            link.cut()
                engine.sync_now(30)
            finally:
                engine.stop()
    finally:
        link.close()
    msgs = asyncio.run(stream_messages(shared_nats.url, stream))
    assert len(msgs) == 60
    for k in range(2):
        got = [int(m.data) for m in msgs if m.subject == f"{stream.lower()}.t{k}"]
        assert got == list(range(k, 60, 2))


def test_cluster_survives_losing_one_server(nats_cluster: list[NatsServer], tmp_path: Path) -> None:
    urls = [s.url for s in nats_cluster]
    with SyncQueue(tmp_path / "q") as q:
        for i in range(300):
            q.put(b"%d" % i)
        transport = NatsTransport(
            urls, stream="R3", create_stream=True, replicas=3, ack_timeout=2.0
        )
        engine = SyncEngine(q, transport, batch_size=10, reconnect=Backoff(0.05, 0.5))
        engine.start()
        try:
            deadline = time.monotonic() + 20
            while len(q) > 250 and time.monotonic() < deadline:
                time.sleep(0.01)
            nats_cluster[0].kill()
            for i in range(300, 400):
                q.put(b"%d" % i)
            engine.sync_now(60)
        finally:
            engine.stop()
    msgs = asyncio.run(stream_messages(urls[1:], "R3"))
    got = sorted(int(m.data) for m in msgs)
    logs = "\n".join(s.log.read_text(errors="replace")[-3000:] for s in nats_cluster)
    assert got == list(range(400)), f"missing {sorted(set(range(400)) - set(got))}\n{logs}"


def test_unreachable_server_is_a_clear_error_and_keeps_messages(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"kept")
        transport = NatsTransport(
            f"nats://127.0.0.1:{free_port()}", stream="X", connect_timeout=0.2
        )
        with pytest.raises(TransportError):
            asyncio.run(transport.async_connect())
        engine = SyncEngine(q, transport, reconnect=Backoff(0.05, 0.1))
        with pytest.raises(TransportError, match="cannot connect to NATS"):
            engine.sync_now(0.5)
        engine.stop()
        assert len(q) == 1 and q.stats().dead == 0


def test_downlink_consumer_hands_messages_to_callback(
    shared_nats: NatsServer, tmp_path: Path
) -> None:
    async def publish_commands() -> None:
        import nats

        nc = await nats.connect(shared_nats.url)
        js = nc.jetstream()
        await js.add_stream(name="CMD", subjects=["cmd.>"])
        for i in range(5):
            await js.publish("cmd.device1", b"command %d" % i)
        await nc.close()

    asyncio.run(publish_commands())
    received: list[bytes] = []
    done = threading.Event()

    def on_command(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        received.append(payload)
        if len(received) == 5:
            done.set()

    with SyncQueue(tmp_path / "q") as q:
        transport = NatsTransport(
            shared_nats.url,
            stream="DOWNUP",
            create_stream=True,
            subject_prefix="up",
            downlink_subject="cmd.>",
            downlink_stream="CMD",
        )
        engine = SyncEngine(q, transport, downlink=on_command)
        engine.start()
        try:
            assert done.wait(15)
        finally:
            engine.stop()
        assert engine.status().received == 5
    assert received == [b"command %d" % i for i in range(5)]

    async def pending() -> int:
        import nats

        nc = await nats.connect(shared_nats.url)
        info = await nc.jetstream().consumer_info("CMD", "edgekit-downlink")
        await nc.close()
        return int(info.num_ack_pending) + int(info.num_pending)

    assert asyncio.run(pending()) == 0


def test_downlink_goes_on_after_the_server_restarts(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """The lost connection is closed, not resumed by nats-py: the engine connects again
    and the downlink subscribes again to its durable consumer."""

    async def publish_commands(first: int, create: bool) -> None:
        import nats

        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        if create:
            await js.add_stream(name="CMD", subjects=["cmd.>"])
        for i in range(first, first + 3):
            await js.publish("cmd.device1", b"command %d" % i)
        await nc.close()

    asyncio.run(publish_commands(0, create=True))
    received: list[bytes] = []

    def on_command(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        received.append(payload)

    with SyncQueue(tmp_path / "q") as q:
        transport = NatsTransport(
            nats_server.url,
            stream="UP",
            create_stream=True,
            downlink_subject="cmd.>",
            downlink_stream="CMD",
            connect_timeout=0.5,
        )
        engine = SyncEngine(q, transport, downlink=on_command, reconnect=Backoff(0.05, 0.2))
        engine.start()
        try:
            deadline = time.monotonic() + 15
            while len(received) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)  # (the acks reach the server)
            nats_server.stop()
            time.sleep(0.3)
            nats_server.start()
            asyncio.run(publish_commands(3, create=False))
            deadline = time.monotonic() + 15
            while len(received) < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            engine.stop()
    # At least once: a command whose ack was cut off by the restart may come twice.
    assert list(dict.fromkeys(received)) == [b"command %d" % i for i in range(6)]
