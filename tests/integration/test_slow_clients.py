"""Slow and silent clients cost memory, never a thread or a fiber.

Under the thread and fiber kinds, a connection waiting for the rest of a
message (slowloris) or for room to write its replies (a client that never
reads) waits in the worker's epoll set with its bytes. Measured before the
connection engine, 200 slowloris connections pinned every thread of
`-k thread --threads 4 -w 2`, and a good client stalled for 15 s. The sync
kind serves one connection at a time by design; there thrift_client_timeout
bounds how long a slow client holds a worker.
"""

import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
from harness import PINGPONG_SO, py_client

POOL_KINDS = ("thread", "fiber")
# What a worker may grow by while it holds the slow clients' bytes: 200
# slowloris connections hold a 16 KiB block each, 16 non-readers at most
# 256 KiB of replies and a block for their next call: about 10 MiB.
RSS_GROWTH_LIMIT_KIB = 32 * 1024


def _assert_rss_bounded(rss_before):
    """Each worker grew by less than RSS_GROWTH_LIMIT_KIB since rss_before
    ({pid: KiB}). Not under a sanitizer: ASan keeps freed memory in a
    quarantine, and the growth then says nothing about what thriftd holds."""
    if harness.SANITIZED:
        return
    for pid, before in rss_before.items():
        grown = harness.vm_rss_kib(pid) - before
        assert grown < RSS_GROWTH_LIMIT_KIB, f"worker {pid} grew by {grown} KiB"


def _call_bytes(method, seqid, args=b"\x00"):
    """A strict binary call: version|type, name, seqid, args struct."""
    name = method.encode()
    return (struct.pack(">I", 0x80010001) + struct.pack(">i", len(name)) + name +
            struct.pack(">i", seqid) + args)


def _echo_args(data):
    return b"\x0b" + struct.pack(">h", 1) + struct.pack(">i", len(data)) + data + b"\x00"


def _open_slowloris(port, count):
    """`count` connections that each sent the first 10 bytes of a ping call."""
    partial = _call_bytes("ping", 1)[:10]
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(partial)
        sockets.append(sock)
    return sockets


def _good_client_calls(port, calls, timeout):
    """Makes `calls` calls on one persistent connection; returns the slowest, s."""
    slowest = 0.0
    with py_client(port, timeout=timeout) as client:
        for i in range(calls):
            start = time.monotonic()
            assert client.add(i, 1) == i + 1
            slowest = max(slowest, time.monotonic() - start)
    return slowest


def _new_connections_served(port, count, timeout):
    """`count` fresh connections, each answered within `timeout` seconds."""
    def one(_):
        with py_client(port, timeout=timeout) as client:
            return client.ping()
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture(params=POOL_KINDS)
def pool_kind(request):
    return request.param


def _start(thriftd, port, kind, *extra):
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}",
                     *harness.kind_args(kind), *extra)
    return server, server.wait_ready(port, workers=2)


def test_slowloris_connections_hold_no_thread(thriftd, port, pool_kind):
    server, workers = _start(thriftd, port, pool_kind)
    rss_before = {pid: harness.vm_rss_kib(pid) for pid in workers}
    slow = _open_slowloris(port, 200)
    try:
        # Every slow connection has been taken by a worker (accepted and read).
        server.wait(lambda: sum(harness.connections_per_worker(workers, port).values()) >= 200,
                    10.0, "the workers to hold the 200 slow connections")
        assert _good_client_calls(port, 50, timeout=2.0) < 2.0
        assert _new_connections_served(port, 8, timeout=2.0) == ["pong"] * 8
        _assert_rss_bounded(rss_before)
        # The slow connections are still open, waiting: finishing a message
        # gets it answered.
        rest = _call_bytes("ping", 1)[10:]
        slow[0].sendall(rest)
        slow[0].settimeout(5.0)
        reply = slow[0].recv(4096)
        assert b"pong" in reply
    finally:
        for sock in slow:
            sock.close()
    assert server.worker_pids() == workers


def test_clients_that_never_read_hold_no_thread(thriftd, port, pool_kind):
    server, workers = _start(thriftd, port, pool_kind)
    rss_before = {pid: harness.vm_rss_kib(pid) for pid in workers}
    payload = b"x" * 65536
    burst = b"".join(_call_bytes("echo", seqid, _echo_args(payload)) for seqid in range(64))
    deaf = []
    try:
        for _ in range(16):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # A small receive window: the replies back up into the server at once.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            try:
                sock.send(burst)  # as much as the kernel takes; never read the replies
            except BlockingIOError:
                pass
            deaf.append(sock)
        # Every deaf client's replies are backed up in the server.
        deaf_ports = {sock.getsockname()[1] for sock in deaf}

        def all_backed_up():
            server_sides = [s for s in harness.tcp_sockets()
                            if s.local_port == port and s.remote_port in deaf_ports]
            return len(server_sides) == len(deaf) and all(s.tx > 0 for s in server_sides)
        server.wait(all_backed_up, 10.0, "the replies to the deaf clients to back up")
        assert _good_client_calls(port, 50, timeout=2.0) < 2.0
        assert _new_connections_served(port, 8, timeout=2.0) == ["pong"] * 8
        _assert_rss_bounded(rss_before)
    finally:
        for sock in deaf:
            sock.close()
    assert server.worker_pids() == workers


def test_a_call_trickling_in_a_byte_at_a_time_is_answered(thriftd, port, kind):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}",
                     *harness.kind_args(kind), "--thrift-client-timeout", "2")
    server.wait_ready(port)
    call = _call_bytes("echo", 7, _echo_args(b"slow but moving"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(call)):
            sock.sendall(call[i:i + 1])
            time.sleep(0.01)  # pacing the client, not waiting for the server
        sock.settimeout(5.0)
        reply = b""
        while b"slow but moving" not in reply:
            chunk = sock.recv(4096)
            assert chunk, "the server closed a connection whose call was still arriving"
            reply += chunk
    assert struct.unpack(">i", reply[12:16])[0] == 7  # the call's seqid


def test_sync_kind_bounds_a_slowloris_client_with_the_client_timeout(thriftd, port):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", "-k", "sync",
                     "--thrift-client-timeout", "0.5", "--log-level", "debug")
    server.wait_ready(port)
    (slow,) = _open_slowloris(port, 1)
    with slow:
        slow_port = slow.getsockname()[1]
        # The one worker is held until the timeout closes the slow connection
        # (the good call gives up after 5 s, ten client timeouts)...
        _good_client_calls(port, 1, timeout=5.0)
        slow.settimeout(5.0)
        assert slow.recv(1) == b""
    # ...which it did because the slow client made no progress; how long that
    # took on a loaded machine says little.
    server.wait_for_log(rf"closing connection from 127\.0\.0\.1:{slow_port}: "
                        r"no progress within thrift_client_timeout$")
