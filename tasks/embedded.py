"""The embedded broker: kombu's filesystem transport, made safe for competing worker processes.

Upstream (kombu 5.7) a consumer claims a message by ``shutil.move``-ing its file out of the queue
folder, which is exclusive only when it is a ``rename(2)`` on one filesystem — but without
``store_processed`` the destination is the system temp folder, often another filesystem (a tmpfs
``/tmp``), where ``move`` degrades to copy-then-delete and two workers can both deliver one message.
A producer also creates the ``.msg`` file empty and writes it afterwards, so a consumer can claim a
half-written file (the ``flock`` it takes is advisory and consumers never check it).

This subclass changes exactly those two steps: a message is written under a temporary name in a
staging folder and renamed into the queue folder when complete; a consumer claims it by renaming
it into a claim folder next to the queue (same filesystem: exactly one rename succeeds) and deletes
it once read. Everything else (exchanges, fan-out, acks) is kombu's. A message whose consumer dies
between claim and ack is lost like any virtual-transport message: the clock re-queues its events.
Local filesystems only (rename is not exclusive on every network filesystem).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

QUEUE, CLAIMED, STAGING, CONTROL = "queue", "claimed", "staging", "control"


def transport_options(folder: Path) -> dict[str, Any]:
    """Folders for :class:`Transport` under ``folder`` (created here: kombu expects them to exist)."""
    paths = {name: folder / name for name in (QUEUE, CLAIMED, STAGING, CONTROL)}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(paths[QUEUE]),
        "data_folder_out": str(paths[QUEUE]),
        "processed_folder": str(paths[CLAIMED]),
        "staging_folder": str(paths[STAGING]),
        "control_folder": str(paths[CONTROL]),
        "store_processed": False,
    }


class Channel(filesystem.Channel):
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]  # kombu: message vs payload
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staging = self.transport_options.get("staging_folder") or self.data_folder_out
        fd, temporary = tempfile.mkstemp(dir=staging, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_encode(payload))
            os.replace(temporary, os.path.join(self.data_folder_out, name))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
            finally:
                if not self.store_processed:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(claimed)
            return _decode(payload)
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = virtual.BrokerState()  # type: ignore[no-untyped-call]


def _encode(message: Any) -> bytes:
    data: bytes = str_to_bytes(dumps(message))  # type: ignore[no-untyped-call]
    return data


def _decode(payload: bytes) -> Any:
    return loads(bytes_to_str(payload))  # type: ignore[no-untyped-call]
