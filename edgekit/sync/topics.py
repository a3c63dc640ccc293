"""Topic and header rules: what a queue accepts at ``put`` is publishable on every transport.

A topic is sent as it is: NATS publishes to ``<subject_prefix>.<topic>``, MQTT to
``<topic_prefix>/<topic>``, HTTP and the directory carry it in JSON. Nothing is
mapped; a topic that one transport could not publish is refused at ``put`` with
:class:`~edgekit.errors.InvalidInputError`. The table is in ``docs/sync.md`` ("Topics").
"""

from __future__ import annotations

import functools
import re

from edgekit.errors import InvalidInputError

__all__ = ["check_headers", "check_topic"]

#: Longest topic, in UTF-8 bytes.
MAX_TOPIC_BYTES = 255

# C0 controls (tab, CR, LF, NUL ...), space, DEL and the C1 controls: NATS splits a
# subject on whitespace and MQTT forbids NUL and discourages controls.
_TOPIC_BAD = re.compile(r"[\x00-\x20\x7f-\x9f]")
_WILDCARDS = {"*": "NATS", ">": "NATS", "+": "MQTT", "#": "MQTT"}
# A header key is an HTTP token (RFC 9110), as NATS headers and HTTP need.
_HEADER_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_BAD = re.compile(r"[\x00\r\n]")


@functools.lru_cache(maxsize=4096)
def check_topic(topic: str) -> bytes:
    """The topic's UTF-8 bytes, or :class:`InvalidInputError` saying what is wrong.

    Accepted: 1 to 255 bytes of UTF-8, no whitespace or control character, no
    wildcard (``*`` ``>`` ``+`` ``#``), no empty NATS token (a leading or trailing
    ``.``, or ``..``), not starting with ``$``. Cached per distinct topic.
    """
    try:
        data = topic.encode()
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"topic {topic!r} is not valid UTF-8: {exc.reason}") from None
    if not data:
        raise InvalidInputError("topic must be a non-empty str")
    if len(data) > MAX_TOPIC_BYTES:
        raise InvalidInputError(
            f"topic of {len(data)} bytes is too long: at most {MAX_TOPIC_BYTES} bytes of UTF-8"
        )
    bad = _TOPIC_BAD.search(topic)
    if bad is not None:
        raise InvalidInputError(
            f"topic {topic!r} has {bad.group()!r} (whitespace or a control character): NATS "
            "subjects and MQTT topics cannot carry it; use '_' or '-'"
        )
    for char, where in _WILDCARDS.items():
        if char in topic:
            raise InvalidInputError(
                f"topic {topic!r} has {char!r}, a {where} wildcard: a published topic cannot; "
                "use '_' or '-'"
            )
    if topic.startswith(".") or topic.endswith(".") or ".." in topic:
        raise InvalidInputError(
            f"topic {topic!r} has an empty NATS token (a leading or trailing '.', or '..'): "
            "'.' separates tokens, as in 'site1.temperature'"
        )
    if topic.startswith("$"):
        raise InvalidInputError(
            f"topic {topic!r} starts with '$', which NATS and MQTT keep for system topics"
        )
    return data


@functools.lru_cache(maxsize=1024)
def _check_key(key: str) -> None:
    if not _HEADER_KEY.fullmatch(key):
        raise InvalidInputError(
            f"header key {key!r} is not a token: use letters, digits and !#$%&'*+-.^_`|~ "
            "(no space, ':', CR or LF), as NATS and HTTP headers need"
        )


def _surrogate(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def check_headers(headers: object) -> None:
    """Raise :class:`InvalidInputError` unless ``headers`` is None or a dict of str to str
    with token keys (RFC 9110: no space, ``:``, CR or LF) and values without CR, LF or NUL."""
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise InvalidInputError("headers must be a dict of str to str")
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError("headers must be a dict of str to str")
        _check_key(key)
        if _HEADER_VALUE_BAD.search(value) or (not value.isascii() and _surrogate(value)):
            raise InvalidInputError(
                f"header {key!r} has a value with CR, LF, NUL or a lone surrogate ({value!r}): "
                "a header value is one line of UTF-8"
            )
