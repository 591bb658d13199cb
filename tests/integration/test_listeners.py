"""Named listeners (issue 12): each bind entry may set its own per-listener
settings (thrift_transport_factory, thrift_protocol_factory), in YAML as a map
or on the command line as ADDRESS,KEY=VALUE; one pool of workers serves every
listener with its own settings, also for a connection handed over between
workers during a reload."""

import re
import signal

import pytest

import harness
from harness import PINGPONG_SO, cpp_client, py_client, run_thriftd


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
    assert result.returncode != 0


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
     '(thrift_transport_factory, thrift_protocol_factory)'),
    ('{thrift_protocol_factory: compact}',
     'expected an address: key in the map ({address: "127.0.0.1:9090", KEY: VALUE})'),
    ('{address: "127.0.0.1:1", thrift_protocol_factory: header}',
     'bind: 127.0.0.1:1: thrift_protocol_factory header needs thrift_transport_factory header, '
     'got "buffered"'),
])
def test_a_bad_bind_entry_is_one_line_naming_its_line(tmp_path, entry, message):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nworkers: 1\nbind:\n  - \"127.0.0.1:2\"\n  - {entry}\n")
    result = run_thriftd("-c", config, "--check-config", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    where = f"{config}:3: bind" if "needs" in message else f"{config}:5: bind: "
    assert lines[0].startswith("thriftd: " + where) or where in lines[0], lines[0]
    assert lines[0].endswith(message), lines[0]


def test_a_bad_bind_entry_on_the_command_line(tmp_path):
    result = run_thriftd(PINGPONG_SO, "-b", "127.0.0.1:1,thrift_protocol_factory=",
                         "--check-config", cwd=tmp_path)
    assert result.returncode != 0
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
