"""Bad bytes at a live worker: garbage, oversized frames and messages, an HTTP
request line. The connection is closed and logged (a WARNING naming the peer),
memory stays bounded, and the same worker serves the next client; under every
worker kind (the `kind` fixture of conftest.py)."""

import socket
import struct

import pytest

import harness
from harness import PINGPONG_SO, cpp_client, py_client

MIB = 1 << 20
RSS_LIMIT_KIB = 64 * 1024


def _start(thriftd, port, kind_args, transport="buffered", protocol="binary", *extra):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args,
                     "--thrift-transport-factory", transport,
                     "--thrift-protocol-factory", protocol, *extra)
    workers = server.wait_ready(port, transport=transport, protocol=protocol)
    return server, workers


def _send_and_wait_closed(port, data, deadline=3.0):
    """Sends data on a fresh connection and waits until the server closes it
    (EOF or reset). Returns the local address as thriftd logs it."""
    with socket.create_connection(("127.0.0.1", port), timeout=deadline) as sock:
        peer = "127.0.0.1:%d" % sock.getsockname()[1]
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return peer  # closed while we were still sending
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise AssertionError(f"the server kept the connection open after {data[:40]!r}"
                                 f" for {deadline}s") from None
    return peer


def _assert_closed_logged_and_served(server, workers, peer, port, transport="buffered",
                                     protocol="binary"):
    line = server.wait_for_log(rf"^.*\[WARNING\] closing connection from {peer}: .*$").group(0)
    assert server.worker_pids() == workers, "the worker did not survive"
    # The next client is served by the same worker.
    with py_client(port, "pingpong", transport, protocol) as client:
        assert client.ping() == "pong"
        assert client.echo(b"after the bad input") == b"after the bad input"
    assert cpp_client(port, transport, protocol, "add", 1, 2) == ["3"]
    assert server.worker_pids() == workers
    return line


GARBAGE = bytes(range(256))[::-1] * 8  # starts 0xff 0xfe ...: no valid version, frame or header


@pytest.mark.parametrize("transport, protocol", [
    ("buffered", "binary"), ("buffered", "compact"), ("buffered", "json"),
    ("framed", "binary"), ("framed", "compact"), ("header", "binary"), ("header", "header"),
], ids=lambda value: value)
def test_garbage_bytes_close_the_connection_and_the_worker_serves_the_next_client(
        thriftd, port, kind_args, transport, protocol):
    server, workers = _start(thriftd, port, kind_args, transport, protocol)
    peer = _send_and_wait_closed(port, GARBAGE)
    _assert_closed_logged_and_served(server, workers, peer, port, transport, protocol)


@pytest.mark.parametrize("transport", ["framed", "header"])
def test_oversized_frame_closes_the_connection_and_the_worker_lives_on(thriftd, port, kind_args,
                                                                       transport):
    server, workers = _start(thriftd, port, kind_args, transport, "binary",
                             "--thrift-max-frame-size", "4096")
    # A frame header announcing 64 KiB (> 4096), then the start of its body.
    peer = _send_and_wait_closed(port, struct.pack(">I", 64 * 1024) + b"\x80\x01\x00\x01" * 64)
    line = _assert_closed_logged_and_served(server, workers, peer, port, transport)
    assert "frame" in line.lower() or "size" in line.lower(), line


def test_frame_of_the_default_limit_plus_one_is_refused(thriftd, port, kind_args):
    server, workers = _start(thriftd, port, kind_args, "framed", "binary")
    peer = _send_and_wait_closed(port, struct.pack(">I", 16384000 + 1) + b"\x00" * 1024)
    _assert_closed_logged_and_served(server, workers, peer, port, "framed")


def test_http_request_at_a_buffered_binary_port_is_closed_with_bounded_memory(thriftd, port,
                                                                              kind_args):
    server, workers = _start(thriftd, port, kind_args)
    request = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\n"
               b"Accept: */*\r\n\r\n")
    peer = _send_and_wait_closed(port, request)
    assert harness.vm_rss_kib(workers[0]) < RSS_LIMIT_KIB
    _assert_closed_logged_and_served(server, workers, peer, port)
    assert harness.vm_rss_kib(workers[0]) < RSS_LIMIT_KIB


def test_huge_string_length_in_a_buffered_binary_call_does_not_allocate_it(thriftd, port,
                                                                            kind_args):
    server, workers = _start(thriftd, port, kind_args)
    # A valid echo() call header whose binary argument claims 2 GiB - 1.
    name = b"echo"
    call = (struct.pack(">I", 0x80010001) + struct.pack(">i", len(name)) + name +
            struct.pack(">i", 1) + b"\x0b" + struct.pack(">h", 1) + struct.pack(">i", 2**31 - 1))
    peer = _send_and_wait_closed(port, call + b"x" * 1024)
    assert harness.vm_rss_kib(workers[0]) < RSS_LIMIT_KIB
    _assert_closed_logged_and_served(server, workers, peer, port)


@pytest.mark.parametrize("transport", ["buffered", "framed"])
def test_message_larger_than_max_message_size_closes_the_connection(thriftd, port, kind_args,
                                                                     transport):
    server, workers = _start(thriftd, port, kind_args, transport, "binary",
                             "--thrift-max-message-size", str(MIB))
    mark = server.log_mark()
    with pytest.raises(Exception):
        with py_client(port, "pingpong", transport, "binary", timeout=10.0) as client:
            client.echo(b"\x07" * (2 * MIB))
    line = server.wait_for_log(r"^.*\[WARNING\] closing connection from 127\.0\.0\.1:\d+: .*$",
                               since=mark).group(0)
    assert server.worker_pids() == workers
    # Under the limit still works, on the same worker.
    with py_client(port, "pingpong", transport, "binary", timeout=10.0) as client:
        assert client.echo(b"\x07" * (MIB // 2)) == b"\x07" * (MIB // 2)
    assert cpp_client(port, transport, "binary", "ping") == ["pong"]
    assert server.worker_pids() == workers
    assert str(MIB) in line or "size" in line.lower(), line


def test_client_closing_mid_message_is_not_fatal_to_the_worker(thriftd, port, kind_args):
    server, workers = _start(thriftd, port, kind_args)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(struct.pack(">I", 0x80010001) + struct.pack(">i", 4) + b"pi")
    with py_client(port) as client:
        assert client.ping() == "pong"
    assert server.worker_pids() == workers


@pytest.mark.parametrize("transport", ["framed", "header"])
def test_well_formed_call_in_a_frame_over_max_frame_size_is_refused(thriftd, port, kind_args,
                                                                     transport):
    server, workers = _start(thriftd, port, kind_args, transport, "binary",
                             "--thrift-max-frame-size", "4096")
    mark = server.log_mark()
    with py_client(port, "pingpong", transport, "binary") as client:
        assert len(client.echo(b"x" * 1000)) == 1000  # under the limit: fine
        with pytest.raises(Exception):
            client.echo(b"x" * 60000)  # a ~60 KB frame, over the 4096-byte limit
    server.wait_for_log(r"\[WARNING\] closing connection from 127\.0\.0\.1:\d+: ", since=mark)
    assert server.worker_pids() == workers
    assert cpp_client(port, transport, "binary", "ping") == ["pong"]
