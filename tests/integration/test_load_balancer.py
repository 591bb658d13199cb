"""Beyond one machine: thriftd behind HAProxy (examples/haproxy/haproxy.cfg).

Two thriftd instances with --drain-delay serve behind HAProxy in TCP mode,
which checks each one's /healthz. Under continuous load through HAProxy, one
instance gets TERM: HAProxy must take it out (its /healthz says 503) while it
still accepts, send new connections to the other instance only, and no
connection may fail on the way; the drained instance exits 0 by itself and the
service answers on.

Through HAProxy a refused server connection is not a refused client
connection: HAProxy accepts the client first, so the client sees its
connection closed without a reply (a lost call), or nothing at all when
HAProxy retries on the other server. So refusals are counted on both sides:
the clients' refused and lost calls, and HAProxy's own connection errors and
retries per server.

haproxy comes from Debian (tools/install-deps.sh --tests); the test runs it
itself, in the foreground, with a config derived from the example's.
"""

import csv
import io
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import harness
from harness import PINGPONG_SO, REPO_DIR

# Debian's is /usr/sbin/haproxy, which a non-root PATH may lack.
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
EXAMPLE_CONFIG = REPO_DIR / "examples" / "haproxy" / "haproxy.cfg"
# As the example's check (inter 1s, fall 1) takes at most about 2 s to see a
# 503, thriftd's drain_delay must be above it; 5 s in the example, 3 s here to
# keep the test short.
DRAIN_DELAY = 3.0
GRACEFUL_TIMEOUT = 5.0
PERSISTENT_CLIENTS = 4
FRESH_CLIENTS = 4

pytestmark = pytest.mark.skipif(
    HAPROXY is None,
    reason="haproxy is not installed (tools/install-deps.sh --tests installs it)")


def lb_config(example, lb_port, servers, stats_socket):
    """The example's config with this test's addresses: HAProxy on lb_port,
    `servers` a list of (thrift port, metrics port), its stats socket and log
    in the test's directory, and one thread (so that a server HAProxy reports
    DOWN gets no connection after the report). Each line replaced must be
    there exactly once: a test that drifted from the example fails here."""
    lines = example.splitlines()
    replacements = [
        (r"\s*log /dev/log local0", "    log stderr format raw local0\n    nbthread 1"),
        (r"\s*stats socket \S+ .*", f"    stats socket {stats_socket} mode 600 level admin"),
        (r"\s*bind :9090", f"    bind 127.0.0.1:{lb_port}"),
        (r"\s*default-server check port 9100 (.*)", r"    default-server check \1"),
    ]
    for pattern, replacement in replacements:
        found = [i for i, line in enumerate(lines) if re.fullmatch(pattern, line)]
        assert len(found) == 1, f"{EXAMPLE_CONFIG}: expected one line /{pattern}/, found {found}"
        lines[found[0]] = re.sub(pattern, replacement, lines[found[0]])
    found = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*server \S+ \S+", line)]
    assert len(found) == len(servers), f"{EXAMPLE_CONFIG}: expected {len(servers)} server lines"
    for index, (line, (port, metrics_port)) in enumerate(zip(found, servers)):
        lines[line] = f"    server thriftd{index + 1} 127.0.0.1:{port} port {metrics_port}"
    return "\n".join(lines) + "\n"


class Haproxy:
    """haproxy -db -f CONFIG, a foreground child of the test, with its
    stderr (its log too) in a file; stopped by the `haproxy` fixture."""

    def __init__(self, config_path, stats_socket, stderr_path):
        self.stats_socket = stats_socket
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(config_path)],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def _check_running(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"haproxy exited with {self.proc.returncode}:\n{self.log()}")

    def command(self, text):
        """The answer to one stats-socket command (the socket closes after it)."""
        self._check_running()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(str(self.stats_socket))
            sock.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self):
        """{server name: its row of `show stat`} for the backend's servers."""
        text = self.command("show stat")
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row for row in rows
                if row["pxname"] == "thriftd" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait(self, predicate, deadline=10.0, message="condition"):
        """wait_until(predicate), failing at once if haproxy exits, and with
        its log and servers on a timeout. A stats socket not yet listening
        counts as not yet."""
        def check():
            try:
                return predicate()
            except (FileNotFoundError, ConnectionRefusedError):
                self._check_running()
                return None
        return harness.wait_until(
            check, deadline,
            lambda: f"{message() if callable(message) else message}; haproxy log:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def haproxy(tmp_path):
    """A factory: haproxy(config_text) writes the config into tmp_path,
    checks it (haproxy -c), starts haproxy and returns a Haproxy; every one
    started is stopped at teardown."""
    started = []
    # A unix socket path has at most 107 bytes; tmp_path is far shorter.
    stats_socket = tmp_path / "haproxy.sock"
    assert len(str(stats_socket)) < 100, stats_socket

    def start(config_text):
        config_path = tmp_path / "haproxy.cfg"
        config_path.write_text(config_text)
        check = subprocess.run([HAPROXY, "-c", "-f", str(config_path)], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, f"haproxy -c:\n{check.stdout}{check.stderr}\n{config_text}"
        proxy = Haproxy(config_path, stats_socket, tmp_path / "haproxy.stderr")
        started.append(proxy)
        return proxy

    start.stats_socket = stats_socket
    yield start
    for proxy in started:
        proxy.stop()


def test_example_config_is_valid():
    result = subprocess.run([HAPROXY, "-c", "-f", str(EXAMPLE_CONFIG)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def peer_ports(access_log_text):
    """The client ports of the calls in an access log of '{peer} {method}' lines."""
    return {int(m.group(1)) for m in re.finditer(r"^\S+:(\d+) ", access_log_text, re.MULTILINE)}


def test_term_drains_one_instance_behind_haproxy(thriftd, haproxy, tmp_path):
    lb_port = harness.free_port()
    ports = {}
    instances = {}
    for name in ("thriftd1", "thriftd2"):
        port, metrics_port = harness.free_port(), harness.free_port()
        ports[name] = (port, metrics_port)
        instances[name] = thriftd(
            PINGPONG_SO, *harness.kind_args("thread"), "-w", "2", "-b", f"127.0.0.1:{port}",
            "--metrics-bind", f"127.0.0.1:{metrics_port}", "--drain-delay", str(DRAIN_DELAY),
            "--graceful-timeout", str(GRACEFUL_TIMEOUT),
            "--access-logfile", tmp_path / f"{name}-access.log",
            "--access-logformat", "{peer} {method}", graceful=GRACEFUL_TIMEOUT + 5)
    for name, server in instances.items():
        server.wait_ready(ports[name][0], workers=2)
    drained, other = instances["thriftd1"], instances["thriftd2"]
    drained_port = ports["thriftd1"][0]
    drained_log = tmp_path / "thriftd1-access.log"

    proxy = haproxy(lb_config(EXAMPLE_CONFIG.read_text(), lb_port, list(ports.values()),
                              haproxy.stats_socket))
    # Both servers UP, and each has passed a check (L7OK: /healthz said 200).
    proxy.wait(lambda: all(row["status"] == "UP" and row["check_status"] == "L7OK"
                           for row in proxy.servers().values()) and len(proxy.servers()) == 2,
               10.0, lambda: "both servers UP after a good check")

    with harness.CallLoad(lb_port, persistent=PERSISTENT_CLIENTS, fresh=FRESH_CLIENTS) as load:
        load.wait_answered(300, server=other)
        # Both instances serve: leastconn spread the connections.
        proxy.wait(lambda: all(int(row["stot"]) > 0 for row in proxy.servers().values()),
                   5.0, "connections on both servers")
        before_term = proxy.servers()

        term_at = time.monotonic()
        drained.signal(signal.SIGTERM)

        def marked_down():
            row = proxy.servers()["thriftd1"]
            return row if row["status"].startswith("DOWN") else None
        down = proxy.wait(marked_down, DRAIN_DELAY + GRACEFUL_TIMEOUT, "thriftd1 marked DOWN")
        down_after = time.monotonic() - term_at
        # At once, before the slow steps below (reading /proc/net/tcp can take
        # seconds on a busy host): had it been read after them, the drain's
        # end could be in the log by then, however early HAProxy acted.
        drained_log_at_down = drained.log()
        # What thriftd1 holds now (any state but listening), then where its
        # access log ends: a call it logs from here on is on one of these.
        held = {s.remote_port for s in harness.tcp_sockets(drained_port)
                if s.local_port == drained_port and s.state != "0A"}
        log_mark = len(drained_log.read_text())
        # It was the 503 of a draining thriftd that took it out, not a refused
        # connection (L4CON: it would have stopped listening already).
        assert (down["check_status"], down["check_code"]) == ("L7STS", "503"), down
        assert "Drained; stopping gracefully" not in drained_log_at_down, (
            f"thriftd1 stopped accepting before HAProxy took it out ({down_after:.2f} s after "
            f"TERM); haproxy log:\n{proxy.log()}")
        answered_at_down = load.answered

        # It stops by itself once drain_delay and its calls are over.
        assert drained.wait_exit(DRAIN_DELAY + GRACEFUL_TIMEOUT + 5) == 0, drained.log()
        exited_after = time.monotonic() - term_at
        # The service answers on, from the other instance.
        load.wait_answered(300, server=other)
    after = proxy.servers()

    # No new connection went to thriftd1 after HAProxy took it out: HAProxy
    # sent it none, and it served calls (it did serve on, for drain_delay)
    # only on connections it already held.
    assert int(after["thriftd1"]["stot"]) == int(down["stot"]), (down, after["thriftd1"])
    assert int(after["thriftd2"]["stot"]) > int(before_term["thriftd2"]["stot"])
    late_peers = peer_ports(drained_log.read_text()[log_mark:])
    assert late_peers, "thriftd1 served no call after it was taken out"
    assert late_peers <= held, f"thriftd1 served new connections {late_peers - held}"

    # Nothing refused or failed, seen from the clients: each lost call is a
    # persistent client's (reconnected, through HAProxy, to thriftd2) whose
    # connection thriftd1 closed between calls at its graceful stop; a
    # connection per call never lost one.
    figures = (f"{load.summary()}; thriftd1 DOWN {down_after:.2f} s after TERM "
               f"({answered_at_down} calls answered by then), exited after "
               f"{exited_after:.2f} s")
    print(figures)
    assert load.refused == 0, figures
    assert load.lost == load.reconnects <= PERSISTENT_CLIENTS, figures
    # ... nor from HAProxy: no server connection failed or was retried.
    for name, row in after.items():
        assert (row["econ"] or "0", row["wretr"] or "0", row["wredis"] or "0") == (
            "0", "0", "0"), f"{name}: {row}"
    with harness.py_client(lb_port) as client:
        assert client.ping() == "pong"
    assert other.running()
