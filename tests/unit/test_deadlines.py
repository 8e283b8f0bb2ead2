"""The watcher that cuts a connection left waiting past its deadline, on a real socket pair."""

from __future__ import annotations

import socket
import time

from app.adapters.storage.deadlines import Deadlines


class Connection:
    """What the watcher needs of a driver connection: its socket's descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


def test_a_wait_past_its_deadline_ends_and_one_disarmed_in_time_does_not() -> None:
    watcher = Deadlines()
    late, late_peer = socket.socketpair()
    on_time, on_time_peer = socket.socketpair()
    with late, late_peer, on_time, on_time_peer:
        cut = Connection(late)  # held: connections are told apart by identity
        armed = time.monotonic()
        watcher.arm(cut, 0.2)
        kept = Connection(on_time)
        watcher.arm(kept, 0.2)
        watcher.disarm(kept)
        late.settimeout(30)  # past it, recv raises: the watcher never cut it
        assert late.recv(1) == b""  # the wait ends: the socket was shut down
        assert time.monotonic() - armed >= 0.2  # at its deadline, never before
        on_time_peer.sendall(b"x")
        assert on_time.recv(1) == b"x"  # still whole
        assert watcher.pending() == 0
