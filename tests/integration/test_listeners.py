"""Named listeners (issue 12): each bind entry may set its own per-listener
settings (the transport and protocol here; the service and TLS in
test_listener_services_tls.py), in YAML as a map
or on the command line as ADDRESS,KEY=VALUE; one pool of workers serves every
listener with its own settings, also for a connection handed over between
workers during a reload."""

import re
import socket
import signal

import pytest

import harness
from harness import PINGPONG_SO, cpp_client, py_client, run_thriftd

EXIT_CONFIG_ERROR = 2


def test_two_listeners_with_different_protocols_are_served_by_one_pool(thriftd, tmp_path, port,
                                                                       kind_args):
    sock = tmp_path / "compact.sock"
    server = thriftd(PINGPONG_SO, "-w", "2", *kind_args, "-b", f"127.0.0.1:{port}",
                     "-b", f"unix:{sock},thrift_transport_factory=framed,"
                     "thrift_protocol_factory=compact")
    server.wait_ready(port, workers=2)
    server.wait_ready(unix=sock, workers=2, transport="framed", protocol="compact")
    assert cpp_client(port, "buffered", "binary", "ping", "add", 40, 2) == ["pong", "42"]
    assert cpp_client(sock, "framed", "compact", "ping", "add", 40, 2) == ["pong", "42"]
    with py_client(sock, transport="framed", protocol="compact") as client:
        assert client.echo(b"x" * 100000) == b"x" * 100000
    # Each listener speaks only its own: binary on the compact listener is refused.
    result = harness.run_cpp_client(sock, "buffered", "binary", "ping", timeout_ms=2000)
    assert result.returncode == harness.CPP_CLIENT_ERROR, result.stderr


def test_bind_entries_as_yaml_maps(thriftd, tmp_path, port):
    sock = tmp_path / "json.sock"
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\n"
                      "thrift_protocol_factory: compact\n"
                      "bind:\n"
                      f"  - \"127.0.0.1:{port}\"\n"
                      f"  - {{address: \"unix:{sock.name}\", thrift_protocol_factory: json}}\n")
    server = thriftd("-c", config)
    server.wait_ready(port, protocol="compact")
    server.wait_ready(unix=sock, protocol="json")
    assert cpp_client(sock, "buffered", "json", "add", 1, 2) == ["3"]

    printed = run_thriftd("-c", config, "--print-config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert (f'bind: ["127.0.0.1:{port}", {{address: "unix:{sock}", '
            'thrift_protocol_factory: "json"}]') in printed.stdout


@pytest.mark.parametrize("entry, message", [
    ('{address: "127.0.0.1:1", thrift_protocol_factory: compakt}',
     'thrift_protocol_factory: expected one of binary, compact, json, header, got "compakt"'),
    ('{address: "127.0.0.1:1", workers: 2}',
     'unknown bind entry key "workers": expected address or a per-listener setting '
     '(service, multiplexed, thrift_transport_factory, thrift_protocol_factory, certfile, '
     'keyfile, ca_certs, cert_reqs, ciphers, ssl_version, tls_handshake_timeout)'),
    ('{thrift_protocol_factory: compact}',
     'expected an address: key in the map ({address: "127.0.0.1:9090", KEY: VALUE})'),
    ('{address: "127.0.0.1:1", thrift_protocol_factory: header}',
     'bind: 127.0.0.1:1: thrift_protocol_factory header needs thrift_transport_factory header or '
     'framed, got "buffered"'),
])
def test_a_bad_bind_entry_is_one_line_naming_its_line(tmp_path, entry, message):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nworkers: 1\nbind:\n  - \"127.0.0.1:2\"\n  - {entry}\n")
    result = run_thriftd("-c", config, "--check-config", cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    where = f"{config}:3: bind" if "needs" in message else f"{config}:5: bind: "
    assert lines[0].startswith("thriftd: " + where) or where in lines[0], lines[0]
    assert lines[0].endswith(message), lines[0]


def test_a_bad_bind_entry_on_the_command_line(tmp_path):
    result = run_thriftd(PINGPONG_SO, "-b", "127.0.0.1:1,thrift_protocol_factory=",
                         "--check-config", cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr.strip().endswith(
        'command line: --bind: thrift_protocol_factory: expected one of binary, compact, json, '
        'header, got ""'), result.stderr


def test_hup_hands_over_a_connection_of_a_non_default_listener(thriftd, tmp_path, port, kind,
                                                               kind_args):
    """The connection goes to a new worker with the listener it came from, and
    is served there with that listener's protocol: the client sees no
    reconnect and its next call is answered."""
    sock = tmp_path / "compact.sock"
    workers = 2
    server = thriftd(PINGPONG_SO, "-w", workers, *kind_args, "-b", f"127.0.0.1:{port}",
                     "-b", f"unix:{sock},thrift_protocol_factory=compact")
    old = server.wait_ready(port, workers=workers)
    with harness.Connection(sock, protocol="compact") as connection:
        assert connection.client.add(1, 2) == 3
        mark = server.log_mark()
        server.signal(signal.SIGHUP)
        for pid in old:
            server.wait(lambda pid=pid: not harness.is_live(pid), 20.0, f"old worker {pid} to exit")
        assert connection.client.add(40, 2) == 42
        assert connection.client.ping() == "pong"
    log = server.log()[mark:]
    assert "closing it" not in log, log
    assert not re.search(r"does not serve", log), log


# --- ephemeral and ranged ports ------------------------------------------------------


def _listening_socket(port):
    """A socket listening on 127.0.0.1:port, or None when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        return sock
    except OSError:
        sock.close()
        return None


def _held_port_with_a_free_next():
    """(socket holding port P, P) where P+1 was free when looked at. 500 tries,
    as in listener_test.cc: a busy host (60,000 sockets) leaves few free pairs."""
    for _ in range(500):
        held_port = harness.free_port()
        held = _listening_socket(held_port)
        if held is None:
            continue
        probe = _listening_socket(held_port + 1)
        if probe is not None:
            probe.close()
            return held, held_port
        held.close()
    raise AssertionError("no two free consecutive ports")


def _read_when_written(path, deadline=10.0):
    return harness.wait_until(lambda: path.exists() and path.read_text(), deadline,
                              f"{path} to be written")


def test_a_port_range_takes_its_first_free_port_kept_across_hup(thriftd, tmp_path):
    from test_observability import http_get
    held, first = _held_port_with_a_free_next()
    with held:
        port_file = tmp_path / "ports"
        metrics_port = harness.free_port()
        server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{first}-{first + 1}",
                         "--port-file", port_file.name,
                         "--metrics-bind", f"127.0.0.1:{metrics_port}")
        chosen = first + 1
        assert _read_when_written(port_file) == f"{chosen}\n"
        server.wait_ready(chosen)
        assert f"Listening at: 127.0.0.1:{chosen} (" in server.log()
        status, body = http_get(metrics_port, "/healthz")
        assert status == 200
        assert (f'"listeners": [{{"address": "127.0.0.1:{first}-{chosen}", '
                f'"listening": "127.0.0.1:{chosen}", "port": {chosen}}}]') in body, body
        # HUP re-reads the same bind: the same socket, the same port, written again.
        held.close()  # the first port of the range is free now; it must not move there
        old = server.worker_pids()
        port_file.unlink()
        server.signal(signal.SIGHUP)
        assert _read_when_written(port_file) == f"{chosen}\n"
        for pid in old:
            server.wait(lambda pid=pid: not harness.is_live(pid), 20.0, f"old worker {pid} to exit")
        server.wait_ready(chosen)
        assert cpp_client(chosen, "buffered", "binary", "ping") == ["pong"]


def test_a_port_range_with_no_free_port_is_one_line_naming_the_range(tmp_path):
    held, first = _held_port_with_a_free_next()
    with held:
        second = _listening_socket(first + 1)
        assert second is not None
        with second:
            result = run_thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{first}-{first + 1}",
                                 cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr.strip().endswith(
        f"command line: --bind: cannot listen on 127.0.0.1:{first}-{first + 1}: no free port in "
        "the range (bind: Address already in use)"), result.stderr


def test_an_ephemeral_port_is_written_and_kept_by_the_new_master_after_usr2(thriftd, adopt,
                                                                           tmp_path):
    port_file = tmp_path / "ports"
    pidfile = tmp_path / "thriftd.pid"
    sock = tmp_path / "x.sock"
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", "127.0.0.1:0", "-b", f"unix:{sock}",
                     "--port-file", port_file.name, "-p", pidfile)
    chosen = int(_read_when_written(port_file))  # unix sockets have no line
    server.wait_ready(chosen)
    port_file.unlink()
    server.signal("USR2")
    match = server.wait_for_log(r"Upgrade: the new master \(pid (\d+)\) is serving")
    new = adopt(int(match.group(1)))
    assert _read_when_written(port_file) == f"{chosen}\n"
    server.signal("TERM")
    assert server.wait_exit(20) == 0
    assert new.running()
    assert cpp_client(chosen, "buffered", "binary", "ping") == ["pong"]


def test_hup_applies_a_listeners_new_settings_to_the_new_workers(thriftd, tmp_path, port):
    sock = tmp_path / "x.sock"
    config = tmp_path / "thriftd.yaml"

    def write(protocol):
        config.write_text(f"app: {PINGPONG_SO}\nworkers: 1\nbind:\n  - \"127.0.0.1:{port}\"\n"
                          f"  - {{address: \"unix:{sock.name}\", thrift_protocol_factory: "
                          f"{protocol}}}\n")
    write("compact")
    server = thriftd("-c", config)
    old = server.wait_ready(unix=sock, protocol="compact")
    write("json")
    server.signal(signal.SIGHUP)
    for pid in old:
        server.wait(lambda pid=pid: not harness.is_live(pid), 20.0, f"old worker {pid} to exit")
    server.wait_ready(unix=sock, protocol="json")
    assert cpp_client(sock, "buffered", "json", "add", 40, 2) == ["42"]
    assert cpp_client(port, "buffered", "binary", "ping") == ["pong"]  # the other as it was
    assert "bind address changes take effect on restart" not in server.log()
