"""Pub/Sub through the real google-cloud-pubsub client: synchronous pull (the worker decides when a message is
acknowledged: only after its results are written), publish, and creating topics and subscriptions where the
deployment has not (the local emulator). `PUBSUB_EMULATOR_HOST` points the client at the emulator."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import grpc
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from riskops.core.errors import ConfigError

MAX_ACK_IDS = 1_000  # one acknowledge call carries at most this many ack ids (request size limit)


def _subscriber() -> pubsub_v1.SubscriberClient:
    """The subscriber client. On the emulator the client's own channel keeps gRPC's 4 MB receive limit, which
    one pull of large events exceeds; Google's endpoint has no limit (the transport sets -1), so neither here."""
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        return pubsub_v1.SubscriberClient()
    from google.auth.credentials import AnonymousCredentials
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    channel = grpc.insecure_channel(host, options=[("grpc.max_receive_message_length", -1)])
    transport = SubscriberGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return pubsub_v1.SubscriberClient(transport=transport)


@dataclass
class Message:
    data: bytes
    ack_id: str
    message_id: str
    publish_time: datetime
    attributes: dict[str, str] = field(default_factory=dict)
    delivery_attempt: int = 0


class PubSub:
    """One project's topics and subscriptions: `topic`/`subscription` take short names."""

    def __init__(self, project: str) -> None:
        if not project:
            raise ConfigError("no Pub/Sub project", "--project / RISKOPS_BQ_PROJECT", "name the GCP project")
        self.project = project
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = _subscriber()

    def topic(self, name: str) -> str:
        return self.publisher.topic_path(self.project, name)

    def subscription(self, name: str) -> str:
        return self.subscriber.subscription_path(self.project, name)

    def ensure(self, topic: str, subscriptions: Sequence[str] = (), ack_deadline_s: int = 60) -> None:
        """Create the topic and its subscriptions when missing (Terraform creates them in production)."""
        with contextlib.suppress(gexc.AlreadyExists):
            self.publisher.create_topic(name=self.topic(topic))
        for sub in subscriptions:
            with contextlib.suppress(gexc.AlreadyExists):
                self.subscriber.create_subscription(
                    name=self.subscription(sub), topic=self.topic(topic), ack_deadline_seconds=ack_deadline_s
                )

    def pull(self, subscription: str, max_messages: int, wait_s: float) -> list[Message]:
        """Up to `max_messages`, waiting at most about `wait_s` when none are there."""
        try:
            response = self.subscriber.pull(
                request={"subscription": self.subscription(subscription), "max_messages": max_messages},
                timeout=max(wait_s, 0.05),
                retry=None,
            )
        except (gexc.DeadlineExceeded, gexc.ServiceUnavailable):
            return []
        return [
            Message(
                data=r.message.data,
                ack_id=r.ack_id,
                message_id=r.message.message_id,
                publish_time=r.message.publish_time,
                attributes=dict(r.message.attributes),
                delivery_attempt=r.delivery_attempt,
            )
            for r in response.received_messages
        ]

    def pull_batch(self, subscription: str, size: int, max_wait_s: float) -> list[Message]:
        """A micro-batch: pull until `size` messages or `max_wait_s` after the first one arrived (an idle stream
        waits one second per empty pull)."""
        batch = self.pull(subscription, size, 1.0)
        deadline = time.monotonic() + max_wait_s
        while batch and len(batch) < size and (left := deadline - time.monotonic()) > 0:
            more = self.pull(subscription, size - len(batch), left)
            if not more:
                break
            batch += more
        return batch

    def ack(self, subscription: str, ack_ids: Sequence[str]) -> None:
        for i in range(0, len(ack_ids), MAX_ACK_IDS):
            self.subscriber.acknowledge(
                request={"subscription": self.subscription(subscription), "ack_ids": list(ack_ids[i : i + MAX_ACK_IDS])}
            )

    def nack(self, subscription: str, ack_ids: Sequence[str]) -> None:
        """Hand messages back for redelivery now (their results could not be written)."""
        for i in range(0, len(ack_ids), MAX_ACK_IDS):
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscription(subscription),
                    "ack_ids": list(ack_ids[i : i + MAX_ACK_IDS]),
                    "ack_deadline_seconds": 0,
                }
            )

    def publish_all(self, topic: str, messages: Sequence[tuple[bytes, dict[str, str]]]) -> None:
        """Publish and wait until every message is stored by Pub/Sub; raises if any was not."""
        path = self.topic(topic)
        futures = [self.publisher.publish(path, data, **attrs) for data, attrs in messages]
        for f in futures:
            f.result(timeout=60)

    def close(self) -> None:
        self.subscriber.close()
        self.publisher.stop()
