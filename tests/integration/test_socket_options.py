"""Options of the listening sockets gunicorn's users set: reuse_port."""

import errno
import socket

import pytest

from harness import PINGPONG_SO, py_client, run_thriftd


def _listen_with_reuse_port(port):
    """A socket of this test's, SO_REUSEPORT set, listening on 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError:
        s.close()
        raise
    return s


def test_reuse_port_lets_another_process_listen_on_the_port(thriftd, tmp_path, port):
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "--reuse-port")
    server.wait_ready(port)
    _listen_with_reuse_port(port).close()
    # A check of the same settings binds beside the running thriftd.
    check = run_thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "--reuse-port",
                        "--check-config", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    with py_client(port) as client:
        assert client.ping() == "pong"
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_without_reuse_port_the_port_is_thriftds_alone(thriftd, port):
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}")
    server.wait_ready(port)
    with pytest.raises(OSError) as error:
        _listen_with_reuse_port(port).close()
    assert error.value.errno == errno.EADDRINUSE
    server.signal("TERM")
    assert server.wait_exit() == 0
