"""Observability: what an operator sees of thriftd at work.

- liveness (-t/--timeout): a worker stuck in a call is killed, says where it
  was stuck, and is replaced; an idle worker, a thread worker with a free
  thread, and a fiber parked in thriftd::sleep_for are never taken for hung;
- the access log (--access-logfile, --access-logformat): one line per call
  with its peer, method, seqid, outcome, duration and bytes, as text or JSON
  lines, never interleaved between workers;
- USR1 reopens both logs (logrotate);
- metrics (--metrics-bind): Prometheus text that promtool accepts, counters
  exact across worker restarts, restarts by reason, and /healthz.

The fiber watchdog (--fiber-check-interval) is tested in test_worker_kinds.py.
"""

import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import harness
from harness import BLOCKER_SO, KEYVALUE_SO, PINGPONG_SO, py_client

# The worker kinds for the liveness tests: the thread kind with 2 threads, so
# that "one thread blocked" and "every thread blocked" differ.
LIVENESS_KINDS = {"sync": ["-k", "sync"], "thread": ["-k", "thread", "--threads", "2"],
                  "fiber": ["-k", "fiber"]}
TIMEOUT = 2          # -t for the liveness tests, seconds
BLOCK_MS = 5000      # how long a blocking call holds its thread: well over TIMEOUT

# The default --access-logformat:
#   {peer} [{time}] "{service}.{method}" {seqid} {outcome} {duration_us}us {bytes_in} {bytes_out} {pid}
DEFAULT_ACCESS_LINE = re.compile(
    r'^(?P<peer>\S+) \[(?P<time>[^\]]+)\] "(?P<service>[^".]*)\.(?P<method>[^"]*)" '
    r"(?P<seqid>-?\d+) (?P<outcome>[a-z_]+) (?P<duration_us>\d+)us (?P<bytes_in>\d+) "
    r"(?P<bytes_out>\d+) (?P<pid>\d+)$")
INT_FIELDS = ("seqid", "duration_us", "bytes_in", "bytes_out", "pid")


# --- helpers --------------------------------------------------------------------


class CountingConnection:
    """A buffered/binary connection to 127.0.0.1:port whose socket counts the
    bytes it sends and receives, with a client of every service on it
    (pingpong, keyvalue, blocker: a call of another service's method is an
    unknown method to the server). `local_port` is what the access log
    shows as the peer's port."""

    def __init__(self, port, timeout=10.0):
        from blocker import Blocker
        from keyvalue import KeyValue
        from pingpong import PingPong
        from thrift.protocol import TBinaryProtocol
        from thrift.transport import TSocket, TTransport

        class CountingSocket(TSocket.TSocket):
            sent = 0
            received = 0

            def read(self, size):
                data = super().read(size)
                self.received += len(data)
                return data

            def write(self, data):
                super().write(data)
                self.sent += len(data)

        self.socket = CountingSocket("127.0.0.1", port)
        self.socket.setTimeout(timeout * 1000)
        self._transport = TTransport.TBufferedTransport(self.socket)
        protocol = TBinaryProtocol.TBinaryProtocol(self._transport)
        self._transport.open()
        self.local_port = self.socket.handle.getsockname()[1]
        self.pingpong = PingPong.Client(protocol)
        self.keyvalue = KeyValue.Client(protocol)
        self.blocker = Blocker.Client(protocol)

    def call(self, service, method, *args, seqid=0):
        """Calls service.method(*args) with this seqid; returns (result or the
        exception raised, bytes sent, bytes received) for this one call."""
        client = getattr(self, service)
        client._seqid = seqid  # the generated Python clients always send their _seqid
        sent, received = self.socket.sent, self.socket.received
        try:
            result = getattr(client, method)(*args)
        except Exception as error:  # noqa: BLE001 -- a declared or application exception
            result = error
        return result, self.socket.sent - sent, self.socket.received - received

    def close(self):
        self._transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_get(port, path, timeout=5.0):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset of (label, value)): value} of a Prometheus text body."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        key = (name, frozenset(LABEL.findall(labels or "")))
        assert key not in samples, f"duplicate series: {line!r}"
        samples[key] = float(value)
    return samples


def scrape(port, refused_ok=False):
    """The parsed samples of /metrics on port (see parse_metrics); with
    refused_ok, None while nothing listens there (the master is starting)."""
    try:
        status, body = http_get(port, "/metrics")
    except urllib.error.URLError as error:
        if refused_ok and isinstance(error.reason, ConnectionRefusedError):
            return None
        raise
    assert status == 200, (status, body)
    return parse_metrics(body)


def series(samples, name, **labels):
    """{frozenset(labels): value} of the samples named `name` whose labels
    include `labels`."""
    want = set(labels.items())
    return {key[1]: value for key, value in samples.items()
            if key[0] == name and want <= key[1]}


def value(samples, name, **labels):
    """The one sample named `name` with exactly these labels (0 if absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_by_label(samples):
    """{(method, outcome): count} of thriftd_requests_total."""
    return {(dict(labels)["method"], dict(labels)["outcome"]): count
            for labels, count in series(samples, "thriftd_requests_total").items()}


def total_requests(samples):
    return sum(series(samples, "thriftd_requests_total").values())


def restarts(samples, reason):
    return value(samples, "thriftd_worker_restarts_total", reason=reason)


def wait_metrics(server, metrics_port, predicate, message, deadline=10.0, starting=False):
    """Scrapes until predicate(samples) is truthy; returns those samples.
    With `starting`, a refused connection counts as "not yet"."""
    last = {}

    def check():
        last["samples"] = scrape(metrics_port, refused_ok=starting)
        return last["samples"] is not None and predicate(last["samples"])
    server.wait(check, deadline, lambda: f"{message}; last scrape: " + repr(
        {k: v for k, v in (last.get("samples") or {}).items()
         if k[0] in ("thriftd_requests_total", "thriftd_worker_restarts_total",
                     "thriftd_workers") and v}))
    return last["samples"]


def wait_workers_ready(server, metrics_port, workers):
    """Waits until /metrics shows `workers` ready workers and none booting;
    unlike Thriftd.wait_ready this makes no Thrift call, which the counters
    would show."""
    samples = wait_metrics(
        server, metrics_port,
        lambda s: (value(s, "thriftd_workers", state="ready") == workers
                   and value(s, "thriftd_workers", state="booting") == 0
                   and value(s, "thriftd_workers", state="draining") == 0),
        f"{workers} ready workers", starting=True)
    server.wait_workers(workers)
    return samples


def promtool_check(text):
    """Runs `promtool check metrics` on text; asserts exit 0."""
    promtool = shutil.which("promtool")
    assert promtool, ("promtool is needed (tools/install-deps.sh takes it out of Debian's "
                      "prometheus package)")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, \
        f"promtool check metrics: {result.returncode}\n{result.stdout}{result.stderr}\n{text}"


def read_lines(path):
    """The complete lines of a file (a line still being written is left out)."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[:-1] if text and not text.endswith("\n") else text.splitlines()


def wait_lines(server, path, count, deadline=10.0):
    """Waits until file `path` has at least `count` lines; returns them all."""
    return server.wait(lambda: len(read_lines(path)) >= count and read_lines(path), deadline,
                       lambda: f"{count} lines in {path} (have {len(read_lines(path))}: "
                               f"{read_lines(path)[-5:]})")


def wait_calls(server, path, count, fmt="default", deadline=10.0):
    """Waits until the access log `path` has `count` lines of calls with a
    seqid other than 0 (Thriftd.wait_ready's probes send 0); returns their
    parsed records in order."""
    def calls():
        records = [parse_access_line(line, fmt) for line in read_lines(path)]
        return [r for r in records if r["seqid"] != 0]
    server.wait(lambda: len(calls()) >= count, deadline,
                lambda: f"{count} calls in {path} (have: {read_lines(path)[-5:]})")
    return calls()


def parse_access_line(line, fmt):
    """The fields of an access log line in the default format or json."""
    if fmt == "json":
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"access log line is not one JSON object: {line!r}")
    else:
        match = DEFAULT_ACCESS_LINE.match(line)
        assert match, f"not a default-format access line: {line!r}"
        record = match.groupdict()
        for field in INT_FIELDS:
            record[field] = int(record[field])
    return record


def stays_quiet(server, seconds, workers, until=None):
    """Watches, for `seconds` (or with `until`: until until() is true, for
    at most `seconds` + 5), that no worker is declared hung and the worker
    pids stay `workers`; fails at once otherwise. Returns the seconds watched."""
    start = time.monotonic()

    def check():
        assert "WORKER TIMEOUT" not in server.log(), server.log()
        assert server.worker_pids() == workers, (server.worker_pids(), server.log())
        return until() if until is not None else time.monotonic() - start >= seconds
    server.wait(check, seconds + 5.0, "the watch to end")
    return time.monotonic() - start


# --- liveness (-t/--timeout) ----------------------------------------------------


def start_for_liveness(thriftd, port, app, kind):
    """thriftd serving `app` with one worker of `kind` under -t TIMEOUT and
    metrics on; returns (server, metrics port, [worker pid]) once the worker
    is ready. Readiness comes from /metrics, not from a probe call, because
    of a bug these tests are not about. BUG (-k thread): a pool thread closes
    a finished connection's socket (Connection::Close) before the loop thread
    frees its event (ConnectionPoller::Done -> Drop); a connection accepted
    in between reuses the descriptor number, libevent still holds an EV_READ
    event for that number and makes no epoll_ctl ADD, and the new connection
    is never served (about 1 in 8 connect-ping-close in a row)."""
    metrics_port = harness.free_port()
    server = thriftd(app, "-w", "1", *LIVENESS_KINDS[kind], "-t", TIMEOUT,
                     "--metrics-bind", f"127.0.0.1:{metrics_port}", "-b", f"127.0.0.1:{port}")
    wait_workers_ready(server, metrics_port, 1)
    return server, metrics_port, server.worker_pids()


@pytest.mark.parametrize("kind", LIVENESS_KINDS)
def test_a_worker_stuck_in_a_call_is_killed_named_and_replaced(thriftd, port, kind):
    from thrift.transport.TTransport import TTransportException

    server, metrics_port, (worker,) = start_for_liveness(thriftd, port, BLOCKER_SO, kind)
    # Every serving thread blocked: 2 calls for the thread kind's 2 threads.
    blocked = 2 if kind == "thread" else 1
    with ThreadPoolExecutor(blocked) as pool:
        sent_at = time.monotonic()
        calls = [harness.start_call(pool, port, "block", BLOCK_MS, service="blocker",
                                    timeout=BLOCK_MS / 1000 + 10) for _ in range(blocked)]
        for _, connection in calls:
            harness.wait_call_read(server, port, connection)
        # Killed well before the calls would have returned by themselves
        # (BLOCK_MS after they were read), ...
        server.wait_for_log(rf"\[CRITICAL\] WORKER TIMEOUT \(pid:{worker}\)",
                            deadline=BLOCK_MS / 1000 - 1.0)
        # ... but not before it was silent for -t.
        assert time.monotonic() - sent_at >= TIMEOUT - 0.2, "declared hung before -t passed"
        # The worker's own last words name the method it was stuck in.
        server.wait_for_log(
            rf"^\[[^\]]+\] \[{worker}\] \[CRITICAL\] WORKER TIMEOUT: stuck in Blocker\.block\b")
        for call, _ in calls:
            with pytest.raises(TTransportException):
                call.result(timeout=10)
    # Replaced by a new worker, which serves the next call.
    server.wait(lambda: len(server.worker_pids()) == 1 and server.worker_pids() != [worker],
                10.0, f"a worker replacing {worker}")
    with py_client(port, "blocker", timeout=5.0) as client:
        assert client.ping() == "pong"
    samples = wait_metrics(server, metrics_port, lambda s: restarts(s, "timeout") == 1,
                           "restarts{reason=timeout} == 1")
    assert restarts(samples, "killed") == 0
    assert server.log().count("WORKER TIMEOUT (pid:") == 1, server.log()


def test_a_thread_worker_with_a_free_thread_is_not_hung(thriftd, port):
    """Under -k thread --threads 2 one blocked thread leaves the other to serve:
    the worker is alive, and is not killed however long the call runs."""
    server, _, workers = start_for_liveness(thriftd, port, BLOCKER_SO, "thread")
    with harness.Connection(port, "blocker", timeout=5.0) as other, \
            ThreadPoolExecutor(1) as pool:
        assert other.client.ping() == "pong"  # held by the worker from now on
        sent_at = time.monotonic()
        slow, connection = harness.start_call(pool, port, "block", BLOCK_MS, service="blocker",
                                              timeout=BLOCK_MS / 1000 + 10)
        harness.wait_call_read(server, port, connection)
        assert other.client.ping() == "pong"  # the free thread answers
        # From here no call completes until the blocked one returns by itself,
        # 2.5 x -t later: only the free thread keeps the worker alive.
        watched = stays_quiet(server, BLOCK_MS / 1000 + 5, workers, until=slow.done)
        assert slow.result() is None
        assert time.monotonic() - sent_at >= BLOCK_MS / 1000
        assert watched >= 4.0, f"watched only {watched:.2f}s"
        assert other.client.ping() == "pong"
    assert server.worker_pids() == workers
    assert "WORKER TIMEOUT" not in server.log()


@pytest.mark.parametrize("kind", LIVENESS_KINDS)
def test_an_idle_connection_does_not_make_a_worker_hung(thriftd, port, kind):
    server, _, workers = start_for_liveness(thriftd, port, PINGPONG_SO, kind)
    with harness.Connection(port, timeout=5.0) as connection:
        assert connection.client.ping() == "pong"  # a worker holds it now
        stays_quiet(server, 5.0, workers)  # 2.5 x -t with the connection idle
        assert connection.client.ping() == "pong"
    assert server.worker_pids() == workers
    assert "WORKER TIMEOUT" not in server.log()


def test_a_fiber_parked_in_sleep_for_does_not_make_a_worker_hung(thriftd, port):
    """pingpong's sleep(ms) is thriftd::sleep_for: under -k fiber it parks the
    fiber and the loop runs on, so a 4 s sleep under -t 2 is no hang."""
    server, _, workers = start_for_liveness(thriftd, port, PINGPONG_SO, "fiber")
    with ThreadPoolExecutor(1) as pool:
        sent_at = time.monotonic()
        slow, connection = harness.start_call(pool, port, "sleep", 4000, timeout=15.0)
        harness.wait_call_read(server, port, connection)
        stays_quiet(server, 10.0, workers, until=slow.done)
        assert slow.result() is None
        assert time.monotonic() - sent_at >= 3.9
    assert server.worker_pids() == workers
    assert "WORKER TIMEOUT" not in server.log()


# --- the access log -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["default", "json"])
def test_access_log_has_a_line_per_call_with_its_outcome(thriftd, tmp_path, fmt):
    from keyvalue.ttypes import NotFoundError
    from thrift.Thrift import TApplicationException

    format_args = [] if fmt == "default" else ["--access-logformat", "json"]
    pingpong_port, keyvalue_port = harness.free_port(), harness.free_port()
    pingpong_log, keyvalue_log = tmp_path / "pingpong.access", tmp_path / "keyvalue.access"
    pingpong = thriftd(PINGPONG_SO, "-w", "1", "--access-logfile", pingpong_log.name,
                       *format_args, "-b", f"127.0.0.1:{pingpong_port}")
    keyvalue = thriftd(KEYVALUE_SO, "-w", "1", "--access-logfile", keyvalue_log.name,
                       *format_args, "-b", f"127.0.0.1:{keyvalue_port}")
    (pingpong_worker,) = pingpong.wait_ready(pingpong_port)
    (keyvalue_worker,) = keyvalue.wait_ready(keyvalue_port, service="keyvalue")

    # (server, client of, method, args, seqid, check of the result, logged service, outcome)
    plan = [
        (pingpong, "pingpong", "ping", (), 11, lambda r: r == "pong", "PingPong", "ok"),
        (pingpong, "pingpong", "add", (2, 3), 12, lambda r: r == 5, "PingPong", "ok"),
        (pingpong, "pingpong", "sleep", (100,), 13, lambda r: r is None, "PingPong", "ok"),
        (keyvalue, "keyvalue", "setValue", ("k", "v"), 21, lambda r: r is None, "KeyValue", "ok"),
        (keyvalue, "keyvalue", "getValue", ("k",), 22, lambda r: r == "v", "KeyValue", "ok"),
        (keyvalue, "keyvalue", "getValue", ("nope",), 23,
         lambda r: isinstance(r, NotFoundError) and r.key == "nope", "KeyValue",
         "declared_exception"),
        # ping is not a KeyValue method: the server answers with an exception.
        (keyvalue, "pingpong", "ping", (), 24,
         lambda r: isinstance(r, TApplicationException)
         and r.type == TApplicationException.UNKNOWN_METHOD, None, "application_exception"),
    ]
    ports = {pingpong: pingpong_port, keyvalue: keyvalue_port}
    workers = {pingpong: pingpong_worker, keyvalue: keyvalue_worker}
    logs = {pingpong: pingpong_log, keyvalue: keyvalue_log}
    expected = {pingpong: [], keyvalue: []}
    connections = {server: CountingConnection(port) for server, port in ports.items()}
    try:
        for server, client, method, args, seqid, check, service, outcome in plan:
            start = time.monotonic()
            result, sent, received = connections[server].call(client, method, *args, seqid=seqid)
            took_us = (time.monotonic() - start) * 1e6
            assert check(result), f"{method}{args} gave {result!r}"
            expected[server].append(dict(
                peer=f"127.0.0.1:{connections[server].local_port}", service=service,
                method=method, seqid=seqid, outcome=outcome, bytes_in=sent, bytes_out=received,
                pid=workers[server], took_us=took_us, args=args))
    finally:
        for connection in connections.values():
            connection.close()

    for server in (pingpong, keyvalue):
        records = wait_calls(server, logs[server], len(expected[server]), fmt)
        assert len(records) == len(expected[server]), records
        for record, want in zip(records, expected[server]):
            where = f"{want['method']}{want['args']}: {record!r}"
            for field in ("peer", "method", "seqid", "outcome", "bytes_in", "bytes_out", "pid"):
                assert record[field] == want[field], f"{field} of {where}"
            if want["service"] is not None:
                assert record["service"] == want["service"], f"service of {where}"
            else:  # an unknown method names no known service
                assert record["service"] in ("-", "KeyValue"), f"service of {where}"
            # JSON: ISO 8601; text: the common log format's. Each with its offset.
            parsed = (datetime.datetime.fromisoformat(record["time"]) if fmt == "json" else
                      datetime.datetime.strptime(record["time"], "%d/%b/%Y:%H:%M:%S %z"))
            assert parsed.utcoffset() is not None, where
            # The worker's duration runs from the whole request read to the
            # reply's flush, both inside the client's send-to-reply time on
            # the same CLOCK_MONOTONIC; only rounding can add to it. (Work the
            # worker does after the reply, when it may be preempted, is not
            # counted.)
            assert 0 <= record["duration_us"] <= want["took_us"] + 1, f"duration of {where}"
            if want["method"] == "sleep":
                assert record["duration_us"] >= 100_000, f"duration of {where}"


def test_access_log_format_fields_and_literal_braces(thriftd, tmp_path, port):
    access = tmp_path / "access.log"
    server = thriftd(PINGPONG_SO, "--access-logfile", access.name, "--access-logformat",
                     "{{{method}}} {outcome} seq={seqid} by {pid} <{service}>",
                     "-b", f"127.0.0.1:{port}")
    (worker,) = server.wait_ready(port)
    with CountingConnection(port) as connection:
        assert connection.call("pingpong", "add", 1, 1, seqid=7)[0] == 2
    line = f"{{add}} ok seq=7 by {worker} <PingPong>"
    server.wait(lambda: line in read_lines(access), 10.0,
                lambda: f"{line!r} in the access log: {read_lines(access)}")
    assert [l for l in read_lines(access) if "seq=0" not in l] == [line]


@pytest.mark.parametrize("fmt, named", [("{nope}", "unknown field {nope}"),
                                        ("{peer} {pid", "unpaired {"), ("{peer}}", "unpaired }")])
def test_a_bad_access_log_format_is_refused(tmp_path, port, fmt, named):
    result = harness.run_thriftd(PINGPONG_SO, "--access-logfile", "access.log",
                                 "--access-logformat", fmt, "-b", f"127.0.0.1:{port}",
                                 cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--access-logformat" in result.stderr and named in result.stderr, result.stderr
    assert not (tmp_path / "access.log").exists() or not (tmp_path / "access.log").read_text()


def test_access_log_lines_of_several_workers_never_interleave(thriftd, tmp_path, port):
    access = tmp_path / "access.log"
    server = thriftd(PINGPONG_SO, "-w", "3", "--access-logfile", access.name,
                     "--access-logformat", "json", "-b", f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=3)
    clients, connections_each, calls_each = 12, 8, 5

    def run(index):
        for c in range(connections_each):
            with CountingConnection(port) as connection:
                for i in range(calls_each):
                    seqid = (index * connections_each + c) * calls_each + i + 1
                    data = b"x" * (seqid % 300)
                    assert connection.call("pingpong", "echo", data, seqid=seqid)[0] == data

    with ThreadPoolExecutor(clients) as pool:
        for run_ in [pool.submit(run, index) for index in range(clients)]:
            run_.result(timeout=60)
    total = clients * connections_each * calls_each
    # Every line is one whole JSON object (wait_calls parses each one).
    calls = wait_calls(server, access, total, "json")
    assert sorted(r["seqid"] for r in calls) == list(range(1, total + 1))
    assert all(r["method"] == "echo" and r["outcome"] == "ok" for r in calls)
    served_by = {r["pid"] for r in calls}
    assert served_by <= set(workers) and len(served_by) >= 2, (served_by, workers)


# --- USR1: reopen the logs -------------------------------------------------------


def test_usr1_reopens_the_error_and_access_logs(thriftd, tmp_path, port):
    error_log, access_log = tmp_path / "error.log", tmp_path / "access.log"
    # debug: a worker logs every connection it closes, so both processes'
    # error log lines can be followed.
    server = thriftd(PINGPONG_SO, "-w", "2", "--log-level", "debug",
                     "--error-logfile", error_log.name, "--access-logfile", access_log.name,
                     "-b", f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=2)
    wait_lines(server, access_log, 1)
    assert "Booting worker" in error_log.read_text()
    error_old, access_old = tmp_path / "error.log.1", tmp_path / "access.log.1"
    error_log.rename(error_old)
    access_log.rename(access_old)
    server.signal("USR1")
    # The master says so, then reopens: that line is the old file's last.
    server.wait(lambda: "Handling signal: usr1" in error_old.read_text(), 10.0,
                "the master's usr1 line")
    # What the master logs from now on goes to the new file: TTIN makes it
    # log, and boot a worker (forked after the reopen).
    server.signal("TTIN")
    server.wait(lambda: re.search(rf"\[{server.pid}\] \[INFO\] Handling signal: ttin",
                                  read_text(error_log)), 10.0,
                "the master's ttin line in the new error log")
    assert "ttin" not in error_old.read_text()
    workers = server.wait_ready(port, workers=3)

    # Each worker reopens in its own loop: call until every one has written
    # to the new access log (sync workers: one connection per call spreads them).
    def both_workers_write_the_new_file():
        with py_client(port) as client:
            assert client.ping() == "pong"
        return {parse_access_line(line, "default")["pid"]
                for line in read_lines(access_log)} == set(workers)
    server.wait(both_workers_write_the_new_file, 10.0, "every worker in the new access log")
    server.wait(lambda: {int(p) for p in re.findall(r"^\[[^\]]+\] \[(\d+)\] \[DEBUG\]",
                                                    read_text(error_log), re.MULTILINE)}
                == set(workers), 10.0, "every worker's debug lines in the new error log")

    # From now on the old files stay as they are, and every new line is in
    # the new files.
    sizes = error_old.stat().st_size, access_old.stat().st_size
    before = len(read_lines(access_log))
    for i in range(20):
        with py_client(port) as client:
            assert client.add(i, 1) == i + 1
    wait_lines(server, access_log, before + 20)
    assert (error_old.stat().st_size, access_old.stat().st_size) == sizes
    assert server.worker_pids() == workers


def read_text(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


# --- metrics ---------------------------------------------------------------------


def run_mixed_workload(port, plan, clients=4, per_connection=5):
    """Runs the calls of `plan` (a list of (service, method, args)) from
    `clients` threads, a new connection every `per_connection` calls; returns
    (bytes sent, bytes received) by the clients in all."""
    from thrift.Thrift import TApplicationException

    chunks = [plan[i:i + per_connection] for i in range(0, len(plan), per_connection)]

    def run(chunk):
        sent = received = 0
        with CountingConnection(port) as connection:
            for service, method, args in chunk:
                result, s, r = connection.call(service, method, *args)
                sent, received = sent + s, received + r
                if method == "ping" and service == "pingpong":
                    assert result == "pong", result
                elif method == "add":
                    assert result == args[0] + args[1], result
                else:
                    assert isinstance(result, TApplicationException), result
        return sent, received

    with ThreadPoolExecutor(clients) as pool:
        totals = [f.result(timeout=60) for f in [pool.submit(run, c) for c in chunks]]
    return sum(t[0] for t in totals), sum(t[1] for t in totals)


def histogram_counts(samples):
    """{method: _count} of thriftd_request_duration_seconds."""
    return {dict(labels)["method"]: count for labels, count in
            series(samples, "thriftd_request_duration_seconds_count").items()}


def test_metrics_count_every_call_exactly_across_a_worker_kill(thriftd, tmp_path, port):
    metrics_port = harness.free_port()
    access = tmp_path / "access.log"
    server = thriftd(PINGPONG_SO, "-w", "2", "--access-logfile", access.name,
                     "--metrics-bind", f"127.0.0.1:{metrics_port}", "-b", f"127.0.0.1:{port}")
    wait_workers_ready(server, metrics_port, 2)
    assert http_get(metrics_port, "/healthz") == (
        200, '{"status": "ok", "workers_ready": 2, "workers_wanted": 2, "generation": 1, '
             f'"listeners": [{{"address": "127.0.0.1:{port}", "listening": "127.0.0.1:{port}", '
             f'"port": {port}}}]}}\n')
    status, body = http_get(metrics_port, "/metrics")
    assert status == 200
    promtool_check(body)
    assert total_requests(parse_metrics(body)) == 0

    # 40 ping, 30 add, and 20 calls of a method pingpong does not have.
    plan = ([("pingpong", "ping", ())] * 40 + [("pingpong", "add", (i, i)) for i in range(30)]
            + [("keyvalue", "getValue", ("k",))] * 20)
    random.Random(1).shuffle(plan)
    sent, received = run_mixed_workload(port, plan)
    samples = wait_metrics(server, metrics_port, lambda s: total_requests(s) >= len(plan),
                           f"{len(plan)} requests counted")
    assert total_requests(samples) == len(plan)
    counts = {k: v for k, v in requests_by_label(samples).items() if v}
    assert counts == {("PingPong.ping", "ok"): 40, ("PingPong.add", "ok"): 30,
                      ("unknown", "application_exception"): 20}
    errors = {dict(k)["method"]: v
              for k, v in series(samples, "thriftd_request_errors_total").items()}
    assert errors == {"PingPong.ping": 0, "PingPong.add": 0, "unknown": 20}
    assert histogram_counts(samples) == {"PingPong.ping": 40, "PingPong.add": 30}
    for method, count in histogram_counts(samples).items():
        assert value(samples, "thriftd_request_duration_seconds_bucket",
                     service=method.split(".")[0], method=method, le="+Inf") == count
        assert value(samples, "thriftd_request_duration_seconds_sum",
                     service=method.split(".")[0], method=method) > 0
    assert value(samples, "thriftd_received_bytes_total") == sent
    assert value(samples, "thriftd_sent_bytes_total") == received
    status, body = http_get(metrics_port, "/metrics")
    promtool_check(body)

    # kill -9 a worker that served calls: its counts stay, and the restart is counted.
    served = {parse_access_line(line, "default")["pid"] for line in read_lines(access)}
    victim = sorted(served & set(server.worker_pids()))[0]
    os.kill(victim, signal.SIGKILL)
    server.wait(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(),
                10.0, f"a worker replacing {victim}")
    after = wait_workers_ready(server, metrics_port, 2)
    after = wait_metrics(server, metrics_port, lambda s: restarts(s, "killed") == 1,
                         "restarts{reason=killed} == 1")
    for reason in ("exited", "max_requests", "timeout", "reload", "boot_error"):
        assert restarts(after, reason) == 0, reason
    assert requests_by_label(after) == requests_by_label(samples)
    assert histogram_counts(after) == histogram_counts(samples)
    for name in ("thriftd_request_duration_seconds_bucket", "thriftd_request_duration_seconds_sum",
                 "thriftd_received_bytes_total", "thriftd_sent_bytes_total"):
        assert series(after, name) == series(samples, name), name
    status, body = http_get(metrics_port, "/metrics")
    promtool_check(body)


def test_metrics_stay_exact_across_max_requests_recycles(thriftd, port):
    metrics_port = harness.free_port()
    server = thriftd(PINGPONG_SO, "-w", "1", "--max-requests", "10",
                     "--metrics-bind", f"127.0.0.1:{metrics_port}", "-b", f"127.0.0.1:{port}")
    wait_workers_ready(server, metrics_port, 1)
    (first,) = server.worker_pids()
    calls = 25
    for i in range(calls):
        with py_client(port) as client:
            assert client.add(i, 1) == i + 1
    # The first worker is recycled (its successor is up, and it is gone).
    samples = wait_metrics(
        server, metrics_port,
        lambda s: restarts(s, "max_requests") >= 1 and total_requests(s) >= calls
        and first not in server.worker_pids(),
        "a max_requests recycle, and every call counted")
    assert total_requests(samples) == calls
    assert value(samples, "thriftd_requests_total", service="PingPong", method="PingPong.add",
                 outcome="ok") == calls
    assert histogram_counts(samples) == {"PingPong.add": calls}
    assert restarts(samples, "killed") == 0 and restarts(samples, "exited") == 0
    assert re.search(rf"Worker \(pid:{first}\) reached max_requests", server.log())
    promtool_check(http_get(metrics_port, "/metrics")[1])


def test_metrics_count_declared_exceptions_apart(thriftd, port):
    """keyvalue: NotFoundError is getValue's declared exception, counted
    apart from its normal replies and as an error."""
    metrics_port = harness.free_port()
    server = thriftd(KEYVALUE_SO, "-w", "2", "--metrics-bind", f"127.0.0.1:{metrics_port}",
                     "-b", f"127.0.0.1:{port}")
    wait_workers_ready(server, metrics_port, 2)
    from keyvalue.ttypes import NotFoundError
    with CountingConnection(port) as connection:
        for i in range(5):
            assert connection.call("keyvalue", "setValue", f"k{i}", "v")[0] is None
        for i in range(7):
            assert connection.call("keyvalue", "getValue", f"k{i % 5}")[0] == "v"
        for i in range(9):
            assert isinstance(connection.call("keyvalue", "getValue", f"x{i}")[0], NotFoundError)
    samples = wait_metrics(server, metrics_port, lambda s: total_requests(s) >= 21,
                           "21 requests counted")
    assert {k: v for k, v in requests_by_label(samples).items() if v} == {
        ("KeyValue.setValue", "ok"): 5, ("KeyValue.getValue", "ok"): 7,
        ("KeyValue.getValue", "declared_exception"): 9}
    assert value(samples, "thriftd_request_errors_total", service="KeyValue",
                 method="KeyValue.getValue") == 9
    assert value(samples, "thriftd_request_errors_total", service="KeyValue",
                 method="KeyValue.setValue") == 0
    assert histogram_counts(samples) == {"KeyValue.setValue": 5, "KeyValue.getValue": 16}
    promtool_check(http_get(metrics_port, "/metrics")[1])


def test_healthz_turns_503_while_draining_after_term(thriftd, port):
    metrics_port = harness.free_port()
    server = thriftd(PINGPONG_SO, "-w", "1", "--metrics-bind", f"127.0.0.1:{metrics_port}",
                     "-b", f"127.0.0.1:{port}")
    server.wait_ready(port)
    healthy = (200, '{"status": "ok", "workers_ready": 1, "workers_wanted": 1, "generation": 1, '
                    f'"listeners": [{{"address": "127.0.0.1:{port}", "listening": '
                    f'"127.0.0.1:{port}", "port": {port}}}]}}\n')
    assert http_get(metrics_port, "/healthz") == healthy
    with ThreadPoolExecutor(1) as pool:
        slow, connection = harness.start_call(pool, port, "sleep", 1500, timeout=10.0)
        harness.wait_call_read(server, port, connection)
        assert http_get(metrics_port, "/healthz") == healthy  # busy is healthy
        server.signal("TERM")

        def unavailable():
            status, body = http_get(metrics_port, "/healthz")
            assert status in (200, 503), (status, body)
            return status == 503 and '"status": "stopping"' in body
        # Within 1 s: the call in flight keeps the master up for 1.5 s.
        harness.wait_until(unavailable, 1.0, "/healthz to answer 503 after TERM")
        assert not slow.done(), "the drain ended before /healthz said 503"
        samples = scrape(metrics_port)
        assert value(samples, "thriftd_workers", state="draining") == 1
        assert value(samples, "thriftd_workers", state="ready") == 0
        assert slow.result(timeout=10) is None  # the call in flight completes
    assert server.wait_exit(10.0) == 0


def test_metrics_bind_must_be_host_and_port(tmp_path, port):
    result = harness.run_thriftd(PINGPONG_SO, "--metrics-bind", "nohost",
                                 "-b", f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--metrics-bind" in result.stderr and "nohost" in result.stderr, result.stderr


def test_metrics_bind_on_a_port_in_use_is_refused(tmp_path, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = harness.run_thriftd(PINGPONG_SO, "--metrics-bind", address,
                                     "-b", f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert address in result.stderr and "in use" in result.stderr, result.stderr
    assert "Booting worker" not in result.stderr, result.stderr
