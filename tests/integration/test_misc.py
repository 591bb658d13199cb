"""Sockets, pidfile, configuration precedence, client timeout, handler errors,
--version and --help: thriftd as an operator and a client see it. The
listening-socket and client-timeout tests run under every worker kind."""

import os
import re
import socket
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
from harness import KEYVALUE_SO, PINGPONG_SO, cpp_client, py_client, run_thriftd


# --- listening sockets -----------------------------------------------------------


def test_unix_socket_bind_serves_both_clients_and_is_removed_at_exit(thriftd, tmp_path,
                                                                      kind_args):
    path = tmp_path / "s.sock"
    server = thriftd(PINGPONG_SO, "-b", f"unix:{path}", *kind_args)
    server.wait_ready(unix=path)
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert cpp_client(path, "buffered", "binary", "ping", "add", 2, 3) == ["pong", "5"]
    with py_client(path) as client:
        assert client.echo(b"over a unix socket") == b"over a unix socket"
    server.signal("TERM")
    assert server.wait_exit() == 0
    assert not path.exists(), "the unix socket file outlived thriftd"


def test_multiple_binds_are_served_at_once_by_one_worker(thriftd, tmp_path, kind_args):
    port_a, port_b = harness.free_port(), harness.free_port()
    path = tmp_path / "multi.sock"
    server = thriftd(PINGPONG_SO, "-w", "1", *kind_args, "-b", f"127.0.0.1:{port_a}",
                     "-b", f"127.0.0.1:{port_b}", "-b", f"unix:{path}")
    server.wait_ready(port_a)
    log = server.log()
    for where in (f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}", f"unix:{path}"):
        assert f"Listening at: {where}" in log
    for address in (port_a, port_b, path):
        assert cpp_client(address, "buffered", "binary", "ping") == ["pong"]
        with py_client(address) as client:
            assert client.add(1, 1) == 2
    server.signal("TERM")
    assert server.wait_exit() == 0
    assert not path.exists()


# --- pidfile ---------------------------------------------------------------------


def test_pidfile_holds_the_master_pid_and_is_removed_at_exit(thriftd, tmp_path, port):
    pidfile = tmp_path / "run" / "thriftd.pid"
    pidfile.parent.mkdir()
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "-p", pidfile)
    server.wait_ready(port)
    assert pidfile.read_text().strip() == str(server.pid)
    server.signal("TERM")
    assert server.wait_exit() == 0
    assert not pidfile.exists(), "the pidfile outlived thriftd"


# --- precedence: defaults < file < THRIFTD_CMD_ARGS < command line ---------------


def _printed(result, key):
    assert result.returncode == 0, result.stderr
    match = re.search(rf"^{key}: (.*)$", result.stdout, re.MULTILINE)
    assert match, f"no {key} in --print-config output:\n{result.stdout}"
    return match.group(1)


@pytest.mark.parametrize("file_workers, env_args, cli_args, expected", [
    (None, None, [], "1"),                    # the default
    ("3", None, [], "3"),                     # the file beats the default
    ("3", "-w 4", [], "4"),                   # THRIFTD_CMD_ARGS beats the file
    ("3", "-w 4", ["-w", "5"], "5"),          # the command line beats them all
    (None, "--workers 4", ["-w", "5"], "5"),
    ("3", None, ["--workers", "5"], "5"),
], ids=["default", "file", "env-over-file", "cli-over-env-and-file", "cli-over-env",
        "cli-over-file"])
def test_precedence_is_defaults_then_file_then_env_then_command_line(
        tmp_path, file_workers, env_args, cli_args, expected):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"workers: {file_workers}\n" if file_workers else "backlog: 64\n")
    env = {"THRIFTD_CMD_ARGS": env_args} if env_args is not None else {}
    result = run_thriftd("-c", config, *cli_args, "--print-config", cwd=tmp_path, env=env)
    assert _printed(result, "workers") == expected


def test_precedence_holds_for_every_layer_on_different_keys(tmp_path):
    config = tmp_path / "thriftd.yaml"
    config.write_text("workers: 3\nbacklog: 64\ngraceful_timeout: 7\n"
                      "thrift_transport_factory: framed\n")
    result = run_thriftd("-c", config, "--backlog", "128", "--print-config", cwd=tmp_path,
                         env={"THRIFTD_CMD_ARGS": "--backlog 99 --graceful-timeout 9"})
    assert _printed(result, "workers") == "3"                     # file only
    assert _printed(result, "backlog") == "128"                   # cli over env over file
    assert _printed(result, "graceful_timeout") == "9"            # env over file
    assert _printed(result, "thrift_transport_factory") == '"framed"'
    assert _printed(result, "thrift_client_timeout") == "0"       # the default


def test_config_file_named_in_thriftd_cmd_args_is_read(tmp_path):
    config = tmp_path / "from-env.yaml"
    config.write_text("workers: 6\n")
    result = run_thriftd("--print-config", cwd=tmp_path,
                         env={"THRIFTD_CMD_ARGS": f"-c {config}"})
    assert _printed(result, "workers") == "6"


# --- handler errors --------------------------------------------------------------


def test_unknown_method_gets_an_application_exception_and_the_connection_stays_open(
        thriftd, port):
    from thrift.Thrift import TApplicationException
    from keyvalue import KeyValue
    from pingpong import PingPong

    server = thriftd(KEYVALUE_SO, "-w", "1", "-b", f"127.0.0.1:{port}")
    worker = server.wait_ready(port, service="keyvalue")
    trans, proto = harness.make_python_protocol(port)
    trans.open()
    try:
        keyvalue, pingpong = KeyValue.Client(proto), PingPong.Client(proto)
        keyvalue.setValue("before", "1")
        with pytest.raises(TApplicationException) as error:
            pingpong.ping()  # keyvalue has no method ping
        assert error.value.type == TApplicationException.UNKNOWN_METHOD
        assert "Invalid method name" in str(error.value.message)
        # Same transport, same connection: still served.
        assert keyvalue.getValue("before") == "1"
        with pytest.raises(TApplicationException):
            pingpong.add(1, 2)
        keyvalue.setValue("after", "2")
        assert keyvalue.getValue("after") == "2"
    finally:
        trans.close()
    assert server.worker_pids() == worker
    assert "closing connection" not in server.log()


def test_cpp_client_sees_invalid_method_name_from_the_server(thriftd, port):
    server = thriftd(KEYVALUE_SO, "-w", "1", "-b", f"127.0.0.1:{port}")
    server.wait_ready(port, service="keyvalue")
    result = harness.run_cpp_client(port, "buffered", "binary", "ping")
    assert result.returncode == 1
    assert "Invalid method name" in result.stderr
    assert cpp_client(port, "buffered", "binary", "set", "k", "v", "get", "k") == ["ok", "v"]


# --- thrift_client_timeout -------------------------------------------------------


def _wait_closed_by_peer(sock, deadline):
    """Blocks until the peer closes sock (EOF or reset); returns the seconds it took."""
    start = time.monotonic()
    sock.settimeout(deadline)
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        raise AssertionError(f"the server kept the connection open past {deadline}s") from None
    assert data == b"", f"unexpected bytes from the server: {data!r}"
    return time.monotonic() - start


def test_client_timeout_closes_an_idle_connection_but_not_a_slow_call(thriftd, port, kind_args):
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}", *kind_args,
                     "--thrift-client-timeout", "1")
    workers = server.wait_ready(port, workers=2)
    with ThreadPoolExecutor(1) as pool, harness.Connection(port, timeout=10.0) as slow_conn:
        slow_conn.client.send_sleep(1500)

        def slow_call():
            slow_conn.client.recv_sleep()
            return slow_conn.client.ping()
        slow = pool.submit(slow_call)
        harness.wait_call_read(server, port, slow_conn, 5.0)
        idle = socket.create_connection(("127.0.0.1", port))
        with idle:
            took = _wait_closed_by_peer(idle, deadline=5.0)
        # The slow call outlives the 1 s idle timeout and still gets its reply.
        assert slow.result(timeout=10) == "pong"
    assert 0.8 <= took <= 3.0, f"idle connection closed after {took:.2f}s, expected ~1s"
    assert server.worker_pids() == workers


def test_without_client_timeout_an_idle_connection_stays_open(thriftd, port):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}")
    server.wait_ready(port)
    with py_client(port, timeout=5.0) as client:
        assert client.ping() == "pong"
        # Idle for longer than the 1 s the test above uses, measured by a condition:
        # a second connection waits in the backlog while this one is held.
        start = time.monotonic()
        other = socket.create_connection(("127.0.0.1", port))
        with other:
            other.settimeout(1.5)
            with pytest.raises(socket.timeout):
                other.recv(1)
        assert time.monotonic() - start >= 1.4
        assert client.ping() == "pong"


# --- --version and --help --------------------------------------------------------


def _project_version():
    text = (harness.REPO_DIR / "meson.build").read_text()
    return re.search(r"version\s*:\s*'([^']+)'", text).group(1)


def test_version_prints_the_project_version_and_exits_0(tmp_path):
    for flag in ("--version", "-v"):
        result = run_thriftd(flag, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"thriftd {_project_version()}"), result.stdout
        assert result.stderr == ""


EXPECTED_OPTIONS = [
    "-c, --config", "--check-config", "--print-config", "-h, --help", "-v, --version",
    "--app-config", "-b, --bind", "--backlog", "-w, --workers", "-k, --worker-class",
    "--graceful-timeout", "--thrift-transport-factory", "--thrift-protocol-factory",
    "--thrift-client-timeout", "--thrift-max-frame-size", "--thrift-max-message-size",
    "-p, --pid", "--error-logfile", "--log-level",
]


def test_help_lists_every_option_and_exits_0(tmp_path):
    result = run_thriftd("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: thriftd")
    for option in EXPECTED_OPTIONS:
        assert re.search(rf"^\s+{re.escape(option)}\b", result.stdout, re.MULTILINE), \
            f"--help does not list {option}:\n{result.stdout}"
    for signal_name in ("TERM", "INT", "QUIT", "HUP", "TTIN", "TTOU"):
        assert signal_name in result.stdout
    assert run_thriftd("-h", cwd=tmp_path).stdout == result.stdout


def test_every_option_help_lists_is_accepted_on_the_command_line(tmp_path):
    help_text = run_thriftd("--help", cwd=tmp_path).stdout
    flags = sorted(set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", help_text, re.MULTILINE)))
    assert len(flags) >= len(EXPECTED_OPTIONS)
    for flag in flags:
        if flag in ("--help", "--version", "--check-config", "--print-config"):
            continue
        result = run_thriftd(flag, "--print-config", cwd=tmp_path)
        assert "unknown option" not in result.stderr, f"{flag}: {result.stderr}"


def test_the_readme_python_client_runs_as_written(thriftd, port):
    """README, "Calling it from Python": examples/pingpong/client.py with the
    generated code on PYTHONPATH and Debian's interpreter."""
    server = thriftd(harness.PINGPONG_SO, "-b", f"127.0.0.1:{port}")
    server.wait_ready(port)
    env = dict(os.environ, PYTHONPATH=str(harness.GEN_PY_DIR))
    result = subprocess.run(["/usr/bin/python3", str(harness.REPO_DIR / "examples" / "pingpong" /
                                                     "client.py"), f"127.0.0.1:{port}"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "pong 42\n"
