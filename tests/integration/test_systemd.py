"""systemd integration: the notify protocol (READY, RELOADING, STOPPING,
STATUS, WATCHDOG, MAINPID on a binary upgrade) heard on a NOTIFY_SOCKET the
test listens on, and socket activation through Debian's own
systemd-socket-activate."""

import re
import shutil
import socket
import struct
import time

import pytest

import harness
from harness import PINGPONG_SO, py_client, wait_until

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")


class NotifySocket:
    """The NOTIFY_SOCKET of a service manager: a datagram socket in
    `directory` that collects what thriftd sends, one dict per message, with
    the sender's pid under "_pid" (SO_PASSCRED, as systemd tells senders
    apart)."""

    def __init__(self, directory):
        self.path = str(directory / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages = []

    def drain(self):
        """Reads every message sent so far (an AF_UNIX datagram is queued by
        the time its send returns); returns them all."""
        credentials = struct.calcsize("iII")
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(credentials))
            except BlockingIOError:
                return self.messages
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    fields["_pid"] = struct.unpack("iII", payload[:credentials])[0]
            self.messages.append(fields)

    def wait_for(self, predicate, what, deadline=10.0, since=0):
        """Waits for a message after index `since` that satisfies predicate;
        returns (index, message)."""
        def found():
            self.drain()
            for index in range(since, len(self.messages)):
                if predicate(self.messages[index]):
                    return index, self.messages[index]
            return None
        return wait_until(found, deadline, lambda: f"{what}; received {self.messages}")

    def close(self):
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path):
    notify = NotifySocket(tmp_path)
    yield notify
    notify.close()


def test_notify_ready_reloading_stopping_and_status(thriftd, tmp_path, port, notify_socket):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 2\n")
    server = thriftd("-c", config, env={"NOTIFY_SOCKET": notify_socket.path})
    ready, message = notify_socket.wait_for(lambda m: m.get("READY") == "1", "READY=1")
    assert message["STATUS"] == "2/2 workers ready, generation 1"
    # Ready means ready: both workers answer.
    assert len(server.worker_pids()) == 2
    with py_client(port) as client:
        assert client.ping() == "pong"

    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    server.signal("HUP")
    reloading, message = notify_socket.wait_for(lambda m: m.get("RELOADING") == "1", "RELOADING=1",
                                                since=ready + 1)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert before <= int(message["MONOTONIC_USEC"]) <= after
    _, message = notify_socket.wait_for(lambda m: m.get("READY") == "1",
                                        "READY=1 ending the reload", since=reloading + 1)
    assert message["STATUS"] == "2/2 workers ready, generation 2"

    server.signal("TERM")
    _, message = notify_socket.wait_for(lambda m: m.get("STOPPING") == "1", "STOPPING=1")
    assert message["STATUS"].startswith("Stopping: ")
    assert server.wait_exit() == 0


def test_a_reload_that_fails_to_boot_still_ends_with_ready(thriftd, tmp_path, port,
                                                           notify_socket):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 1\n")
    server = thriftd("-c", config, env={"NOTIFY_SOCKET": notify_socket.path})
    ready, _ = notify_socket.wait_for(lambda m: m.get("READY") == "1", "READY=1")
    config.write_text(f"app: {harness.failing_app('start_throws_app')}\n"
                      f"bind: 127.0.0.1:{port}\nworkers: 1\n")
    server.signal("HUP")
    reloading, _ = notify_socket.wait_for(lambda m: m.get("RELOADING") == "1", "RELOADING=1",
                                          since=ready + 1)
    # systemd would wait in "reloading" for ever without it.
    _, message = notify_socket.wait_for(lambda m: m.get("READY") == "1",
                                        "READY=1 after the abandoned reload", since=reloading + 1)
    assert message["STATUS"] == "1/1 workers ready, generation 1"


def test_watchdog_pings_while_the_loop_runs(thriftd, port, notify_socket):
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}",
                     env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "600000"})
    first, _ = notify_socket.wait_for(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1")
    notify_socket.wait_for(lambda m: m.get("WATCHDOG") == "1", "a second WATCHDOG=1",
                           since=first + 1)
    assert server.running()


def test_usr2_then_term_hands_the_service_to_the_new_master_with_mainpid(
        thriftd, adopt, tmp_path, port, notify_socket):
    # As systemd starts it: WATCHDOG_PID names the master (the shell execs it).
    server = thriftd("-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', harness.THRIFTD_BIN, PINGPONG_SO,
                     "-b", f"127.0.0.1:{port}", "-p", tmp_path / "t.pid", binary="/bin/sh",
                     env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "600000"})
    ready, _ = notify_socket.wait_for(lambda m: m.get("READY") == "1", "READY=1")
    server.signal("USR2")
    match = server.wait_for_log(r"Upgrade: the new master \(pid (\d+)\) is serving")
    new = adopt(int(match.group(1)))
    # Until the old master is told to stop, it stays the main process: a
    # rollback would not have to hand that back.
    assert not [m for m in notify_socket.drain() if "MAINPID" in m]
    mark = len(notify_socket.messages)
    server.signal("TERM")
    _, message = notify_socket.wait_for(lambda m: "MAINPID" in m, "MAINPID", since=mark)
    assert message["_pid"] == server.pid
    assert int(message["MAINPID"]) == new.pid
    assert server.wait_exit(20) == 0
    # The old master, no longer the main process, said nothing of stopping
    # (all it sent is queued by now); the new one pings the watchdog
    # (WATCHDOG_PID was pointed at it), and says STOPPING when it stops.
    assert not [m for m in notify_socket.drain()
                if m.get("_pid") == server.pid and m.get("STOPPING") == "1"]
    notify_socket.wait_for(lambda m: m.get("_pid") == new.pid and m.get("WATCHDOG") == "1",
                           "the new master's WATCHDOG=1")
    new.signal("TERM")
    notify_socket.wait_for(lambda m: m.get("_pid") == new.pid and m.get("STOPPING") == "1",
                           "the new master's STOPPING=1")
    assert new.wait_exit(20) == 0


# --- socket activation ------------------------------------------------------------


def _activated(thriftd, port, *thriftd_args, names="thrift"):
    """thriftd run by systemd-socket-activate listening on 127.0.0.1:port,
    which execs it (same pid) once a first client connects; that first
    connection is made here, and answered."""
    server = thriftd("-l", f"127.0.0.1:{port}", f"--fdname={names}", harness.THRIFTD_BIN,
                     *thriftd_args, binary=SOCKET_ACTIVATE)
    # It listens before it execs thriftd: connecting may only wait in the backlog.
    wait_until(lambda: any(s.local_port == port and s.state == "0A"
                           for s in harness.tcp_sockets(port)), 10.0, "the activation socket")
    with py_client(port, timeout=10.0) as client:
        assert client.ping() == "pong"
    return server


@pytest.mark.skipif(SOCKET_ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_socket_activation_by_name(thriftd, port):
    server = _activated(thriftd, port, PINGPONG_SO, "-b", "systemd:thrift")
    server.wait_for_log(rf"Listening at: systemd:thrift \(127\.0\.0\.1:{port}\)")
    server.wait_ready(port)


@pytest.mark.skipif(SOCKET_ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_socket_activation_without_a_bind_serves_every_passed_socket(thriftd, port):
    server = _activated(thriftd, port, PINGPONG_SO)
    server.wait_for_log(rf"Listening at: systemd:thrift \(127\.0\.0\.1:{port}\)")
    assert "127.0.0.1:8000" not in server.log()  # the default bind is not opened


@pytest.mark.skipif(SOCKET_ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_a_bind_naming_a_socket_systemd_did_not_pass_is_one_clear_error(thriftd, port):
    server = thriftd("-l", f"127.0.0.1:{port}", "--fdname=thrift", harness.THRIFTD_BIN,
                     PINGPONG_SO, "-b", "systemd:admin", binary=SOCKET_ACTIVATE)
    wait_until(lambda: any(s.local_port == port and s.state == "0A"
                           for s in harness.tcp_sockets(port)), 10.0, "the activation socket")
    with socket.create_connection(("127.0.0.1", port)):
        assert server.wait_exit() == 2
    assert server.log().strip().splitlines()[-1] == (
        "thriftd: command line: --bind: cannot listen on systemd:admin: systemd passed no "
        "socket named admin (LISTEN_FDNAMES: thrift)")


@pytest.mark.skipif(SOCKET_ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_an_activated_socket_survives_hup_and_usr2(thriftd, adopt, tmp_path, port):
    pidfile = tmp_path / "t.pid"
    server = _activated(thriftd, port, PINGPONG_SO, "-b", "systemd:thrift", "-p", pidfile)
    server.wait_ready(port)
    server.signal("HUP")
    server.wait_for_log(r"Generation 2 is serving")
    with py_client(port) as client:
        assert client.ping() == "pong"
    server.signal("USR2")
    match = server.wait_for_log(r"Upgrade: the new master \(pid (\d+)\) is serving")
    new = adopt(int(match.group(1)))
    server.signal("TERM")
    assert server.wait_exit(20) == 0
    with py_client(port) as client:
        assert client.ping() == "pong"
    assert re.search(rf"\[{new.pid}\] \[INFO\] Listening at: systemd:thrift "
                     rf"\(127\.0\.0\.1:{port}\)", server.log()), server.log()
