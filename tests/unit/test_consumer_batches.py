"""Which deliveries of a batch the consumer may still handle and ack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from aio_pika.abc import AbstractIncomingMessage

from consumer.worker import live_deliveries

pytestmark = pytest.mark.unit


@dataclass
class _Channel:
    is_closed: bool


class _Delivery:
    """Stands in for aio-pika's IncomingMessage: ``.channel`` raises once it is gone."""

    def __init__(self, tag: int, channel: _Channel | None) -> None:
        self.delivery_tag = tag
        self._channel = channel

    @property
    def channel(self) -> _Channel:
        if self._channel is None:
            raise RuntimeError("channel closed")
        return self._channel


def deliveries(*items: _Delivery) -> list[AbstractIncomingMessage]:
    return [cast(Any, item) for item in items]


def test_a_batch_across_a_reconnect_keeps_the_new_channels_deliveries() -> None:
    old, new = _Channel(is_closed=True), _Channel(is_closed=False)
    batch = deliveries(_Delivery(7, old), _Delivery(8, None), _Delivery(1, new),
                       _Delivery(2, new))
    assert [m.delivery_tag for m in live_deliveries(batch)] == [1, 2]


def test_all_open_or_all_gone() -> None:
    open_channel = _Channel(is_closed=False)
    batch = deliveries(_Delivery(1, open_channel), _Delivery(2, open_channel))
    assert live_deliveries(batch) == batch
    assert live_deliveries(deliveries(_Delivery(3, None))) == []
