"""Push delivery, done the way Pub/Sub does it, from a pull subscription.

The emulator's push subscriptions neither count delivery attempts nor apply a dead-letter
policy, and they back off for minutes after a few failed pushes; its pull subscriptions do
both (the policy moves a message after `max_delivery_attempts` deliveries). This relay pulls
from such a subscription and POSTs each message to the function as a push request
(``{"message": {...}, "subscription": ..., "deliveryAttempt": n}``, the shape Pub/Sub sends
when a dead-letter policy is set); a 2xx acknowledges, anything else is a nack (ack deadline
0), so the message is delivered again, exactly as a failed push. The dead-lettering itself is
the emulator's.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from google.api_core.exceptions import DeadlineExceeded, ServiceUnavailable


class PushRelay:
    def __init__(self, subscriber: Any, subscription: str, url: str, concurrency: int = 4) -> None:
        self.subscriber, self.subscription, self.url = subscriber, subscription, url
        self.deliveries: list[tuple[str, int, int]] = []  # (message id, attempt, status)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(concurrency)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PushRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                try:
                    response = self.subscriber.pull(subscription=self.subscription, max_messages=8, timeout=5)
                except (DeadlineExceeded, ServiceUnavailable):  # nothing to pull yet: pull again
                    continue
                done = [
                    self._pool.submit(self._push, client, received) for received in response.received_messages
                ]
                for future in done:
                    future.result()

    def _push(self, client: httpx.Client, received: Any) -> None:
        message = received.message
        envelope = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "messageId": message.message_id,
                "attributes": dict(message.attributes),
                "publishTime": message.publish_time.isoformat(),
            },
            "subscription": self.subscription,
            "deliveryAttempt": received.delivery_attempt,
        }
        try:
            status = client.post(self.url, json=envelope).status_code
        except httpx.HTTPError:
            status = 0
        self.deliveries.append((message.message_id, received.delivery_attempt, status))
        if 200 <= status < 300:
            self.subscriber.acknowledge(subscription=self.subscription, ack_ids=[received.ack_id])
        else:
            self.subscriber.modify_ack_deadline(
                subscription=self.subscription, ack_ids=[received.ack_id], ack_deadline_seconds=0
            )
