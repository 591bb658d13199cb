"""Bad bytes at a live worker: garbage, oversized frames and messages, an HTTP
request line, 2 GiB lengths, containers nested past the recursion limit. The
connection is closed and logged (a WARNING naming the peer), the worker's
peak memory stays within HOSTILE_RSS_GROWTH_KIB, and the same worker serves
the next client; under every worker kind (the `kind` fixture of conftest.py)."""

import socket
import struct

import pytest

import harness
from harness import PINGPONG_SO, cpp_client, py_client

MIB = 1 << 20
# What a worker's peak RSS (VmHWM) may rise by while it reads a hostile
# client's bytes and closes the connection. thriftd reads at most 64 KiB
# past what the current message needs into the connection's block (16 KiB,
# doubling), sees the bad length or bytes, and drops the block: well under
# 1 MiB. The rest is margin: 8 MiB, four times that under a sanitizer
# (shadow memory, ASan's quarantine). Each attack sends HOSTILE_BODY after
# its bad header, so a worker that believed a 2 GiB frame or string length
# and read on (into a buffer of that size, or any buffer at all) would peak
# at least 64 MiB higher: the assertion fails.
HOSTILE_RSS_GROWTH_KIB = 8 * 1024 * (4 if harness.SANITIZED else 1)
HOSTILE_BODY = b"\x07" * (64 * MIB)


def _start(thriftd, port, kind_args, transport="buffered", protocol="binary", *extra):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args,
                     "--thrift-transport-factory", transport,
                     "--thrift-protocol-factory", protocol, *extra)
    workers = server.wait_ready(port, transport=transport, protocol=protocol)
    return server, workers


def _send_and_wait_closed(port, data, deadline=5.0):
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


def _assert_rss_bounded(peak_before):
    """The workers' peak RSS rose by less than HOSTILE_RSS_GROWTH_KIB since
    harness.reset_peak_rss gave peak_before."""
    for pid, grown in harness.peak_rss_growth_kib(peak_before).items():
        assert grown < HOSTILE_RSS_GROWTH_KIB, \
            f"worker {pid}'s peak RSS grew by {grown} KiB (bound {HOSTILE_RSS_GROWTH_KIB})"


def _attack(server, workers, port, data, transport="buffered", protocol="binary"):
    """Sends `data` on a fresh connection; the server closes it with a
    WARNING naming the peer, the worker's peak RSS stays bounded, and the
    same worker serves the next clients. Returns the log line."""
    peak_before = harness.reset_peak_rss(workers)
    peer = _send_and_wait_closed(port, data)
    _assert_rss_bounded(peak_before)
    return _assert_closed_logged_and_served(server, workers, peer, port, transport, protocol)


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
    _attack(server, workers, port, GARBAGE + HOSTILE_BODY, transport, protocol)


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
    # A stock buffered, non-strict binary server reads "GET " as a 1.2 GB name.
    request = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\n"
               b"Accept: */*\r\n\r\n")
    _attack(server, workers, port, request + HOSTILE_BODY)


def _call(method, args):
    """A strict binary call of `method` with the argument struct's bytes `args`."""
    name = method.encode()
    return (struct.pack(">I", 0x80010001) + struct.pack(">i", len(name)) + name +
            struct.pack(">i", 1) + args)


@pytest.mark.parametrize("transport", ["framed", "header"])
def test_a_2_gib_frame_length_is_refused_without_reading_it(thriftd, port, kind_args, transport):
    server, workers = _start(thriftd, port, kind_args, transport, "binary")
    frame = struct.pack(">I", 2**31 - 1) + _call("ping", b"\x00")
    line = _attack(server, workers, port, frame + HOSTILE_BODY, transport)
    assert "frame" in line.lower() or "size" in line.lower(), line


# An echo() call whose binary argument claims 2 GiB - 1 bytes, and 1 MiB of them.
STRING_2GIB = _call("echo", b"\x0b" + struct.pack(">h", 1) + struct.pack(">i", 2**31 - 1) +
                    b"x" * MIB)


def test_huge_string_length_in_a_buffered_binary_call_does_not_allocate_it(thriftd, port,
                                                                            kind_args):
    server, workers = _start(thriftd, port, kind_args)
    _attack(server, workers, port, STRING_2GIB + HOSTILE_BODY)


def test_huge_string_length_inside_a_valid_frame_does_not_allocate_it(thriftd, port, kind_args):
    # The frame is whole and under thrift_max_frame_size: only the protocol,
    # reading through thriftd's limits, sees the string's length. The worker
    # holds the 1 MiB frame, never the 2 GiB string.
    server, workers = _start(thriftd, port, kind_args, "framed", "binary")
    _attack(server, workers, port, struct.pack(">I", len(STRING_2GIB)) + STRING_2GIB, "framed")


def test_huge_method_name_length_in_a_header_protocol_frame_does_not_allocate_it(thriftd, port,
                                                                                 kind_args):
    # A 56-byte header frame (binary inside) whose method name claims 1.6 GB:
    # THeaderProtocol's inner protocol had no limit, and a worker allocated
    # and zeroed it (found by tests/fuzz/connection_header).
    server, workers = _start(thriftd, port, kind_args, "header", "header")
    frame = bytes.fromhex("000000340fff000000000000000100000000800100016000fffe6563686f000000000b"
                          "00010000000e68656c6c6f2c2074687a6b66746400")
    _attack(server, workers, port, frame, "header", "header")


# echo()'s argument struct holding 100 lists, each the only element of the
# one around it: past Thrift's recursion limit of 64.
NESTED = _call("echo", b"\x0f" + struct.pack(">h", 1) + (b"\x0f" + struct.pack(">i", 1)) * 100 +
               b"\x08" + struct.pack(">i", 0))


@pytest.mark.parametrize("transport", ["buffered", "framed"])
def test_containers_nested_past_the_recursion_limit_close_the_connection(thriftd, port,
                                                                         kind_args, transport):
    # Buffered: thriftd's message scanner refuses the depth; framed: the
    # frame is whole, and the protocol's recursion limit refuses it.
    server, workers = _start(thriftd, port, kind_args, transport, "binary")
    data = NESTED + HOSTILE_BODY if transport == "buffered" else \
        struct.pack(">I", len(NESTED)) + NESTED
    line = _attack(server, workers, port, data, transport)
    assert "depth" in line.lower() or "nest" in line.lower() or "recursion" in line.lower(), line


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


def test_a_header_frame_claiming_more_than_its_framed_frame_is_refused(thriftd, port, kind_args):
    # The header protocol over framed: THeaderTransport makes room for what
    # the inner frame length claims (1 GiB here) before it reads the frame.
    server, workers = _start(thriftd, port, kind_args, "framed", "header")
    frame = struct.pack(">II", 8, 0x3FFFFFF0) + struct.pack(">I", 0x0FFF0000)
    line = _attack(server, workers, port, frame + HOSTILE_BODY, "framed", "header")
    assert "header frame of 1073741808 bytes in a framed frame of 8 bytes" in line, line
