"""The chaos suite's machinery (issue 11): a continuous load that classifies
every failure a client can see, the measurements of one run (the longest gap
without an answer, the RSS of the master and its workers, the time to
restore the worker count), the server's own count of the calls it answered,
and the one-line / JSON-line report of a run.

A failure is exactly one of:
  refused              the connection could not be opened;
  closed_before_write  the connection was found closed (end of file or reset
                       pending on it) before the request was written, or the
                       send failed: the server never saw the call, so it is
                       safe to retry;
  lost                 the request was written and no answer came (end of
                       file, reset or timeout while waiting for the reply);
  errors               an answer came but was wrong: a TApplicationException,
                       a reply that does not parse, or a wrong sum.
Every failure on a persistent connection is followed by a reconnect
(counted); a call found closed before it was written is retried there.
"""

import json
import os
import random
import re
import select
import socket
import threading
import time
import urllib.request
from pathlib import Path

import harness

# The default length of each scenario's fault window, seconds: the short
# mode that `meson test` runs. THRIFTD_CHAOS_SECONDS or --chaos-seconds
# make it longer.
SHORT_SECONDS = 2.5
# A call answered after this many seconds is lost: well over anything a
# graceful action or a SIGSTOP past `-t 2` keeps a client waiting.
CALL_TIMEOUT = 10.0
# How often the time to restore the worker count is looked at: the
# measurement's resolution (its target is 100 ms).
RESTORE_POLL = 0.005
# How often the RSS of the master and its workers is sampled for the peak.
RSS_POLL = 0.05

FAILURE_CLASSES = ("refused", "closed_before_write", "lost", "errors")

# Every run's record, for the table at the end of the session (conftest.py).
RECORDS = []


def seconds_from(value):
    """The fault window in seconds from an option or environment value
    (None or empty: the short mode)."""
    if value in (None, ""):
        return SHORT_SECONDS
    seconds = float(value)
    if seconds <= 0:
        raise ValueError(f"the chaos window must be positive, got {value!r}")
    return seconds


# --- the load ------------------------------------------------------------------


def describe(error):
    """An exception, with the one Thrift's TSocket wraps (a timeout shows as
    "unexpected exception" there)."""
    inner = getattr(error, "inner", None)
    return f"{error!r} ({inner!r})" if inner is not None else repr(error)


class ChaosLoad:
    """`persistent` threads each call add(i, index) over and over on one
    connection, and `fresh` threads each open a new connection per call;
    every call is one at a time, so a client has at most one call in
    flight. Counts `calls` (answered right), each failure class, `reconnects`
    (a persistent client opening its connection again) and `connections`
    (opened by the connection-per-call clients); with mark_gaps(), the
    longest time without any answer from any client."""

    def __init__(self, port, persistent, fresh, timeout=CALL_TIMEOUT):
        self.port = port
        self.persistent = persistent
        self.fresh = fresh
        self.timeout = timeout
        self.counts = dict(calls=0, refused=0, closed_before_write=0, lost=0, errors=0,
                           reconnects=0, connections=0)
        self.per_client = [0] * (persistent + fresh)
        self.failures = []  # the first few, described, for the report
        self.max_gap = 0.0
        self._gaps = False
        self._last_answer = None
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._threads = [threading.Thread(target=self._persistent_client, args=(i,),
                                          name=f"chaos-persistent-{i}", daemon=True)
                         for i in range(persistent)]
        self._threads += [threading.Thread(target=self._fresh_client, args=(persistent + i,),
                                           name=f"chaos-fresh-{i}", daemon=True)
                          for i in range(fresh)]
        for thread in self._threads:
            thread.start()

    # - counting -

    def _record(self, client, outcome, detail=None):
        now = time.monotonic()
        with self._lock:
            if outcome is None:
                self.counts["calls"] += 1
                self.per_client[client] += 1
                if self._gaps:
                    self.max_gap = max(self.max_gap, now - self._last_answer)
                self._last_answer = now
                return
            self.counts[outcome] += 1
            if len(self.failures) < 20:
                self.failures.append(f"{now - self._started:.3f}s client {client}: {outcome}: "
                                     f"{detail}")

    def snapshot(self):
        """(counts, per-client answered) as they are now."""
        with self._lock:
            return dict(self.counts), list(self.per_client)

    def mark_gaps(self):
        """Measures the longest gap without an answer from now on."""
        with self._lock:
            self._gaps = True
            self._last_answer = time.monotonic()

    def _end_gaps(self):
        with self._lock:
            if self._gaps:
                self.max_gap = max(self.max_gap, time.monotonic() - self._last_answer)
                self._gaps = False

    def pause(self):
        """Lets no client start another call (those under way finish); the
        connections stay open, idle. The gap measure pauses too."""
        self._running.clear()
        self._end_gaps()

    def resume(self):
        self.mark_gaps()
        self._running.set()

    def _next_call(self):
        """Waits while paused; False once stopping."""
        self._running.wait()
        return not self._done.is_set()

    # - the clients -

    def _open(self, client):
        """A new connection; retried while refused; None once stopping."""
        while not self._done.is_set():
            try:
                return harness.Connection(self.port, timeout=self.timeout)
            except Exception as error:  # noqa: BLE001 -- counted, then retried
                self._record(client, "refused", repr(error))
                self._done.wait(0.01)  # a client's retry pace, not a wait for a condition
        return None

    @staticmethod
    def _call(connection, a, b):
        """add(a, b) on `connection`: None when answered right, else
        (failure class, detail)."""
        from thrift.Thrift import TApplicationException
        from thrift.transport.TTransport import TTransportException

        sock = connection.socket
        # Closed before the request is written: the server's end of file or
        # reset is already here (a reply is never pending between calls).
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                if not sock.recv(1, socket.MSG_PEEK):
                    return "closed_before_write", "end of file before the request was written"
                return "errors", "bytes arrived that no call asked for"
        except OSError as error:
            return "closed_before_write", f"{error!r} before the request was written"
        try:
            connection.client.send_add(a, b)
        except Exception as error:  # noqa: BLE001 -- the send failed: never reached thriftd
            return "closed_before_write", f"send failed: {describe(error)}"
        try:
            result = connection.client.recv_add()
        except TApplicationException as error:
            return "errors", f"TApplicationException: {error}"
        except (TTransportException, OSError) as error:
            return "lost", describe(error)
        except Exception as error:  # noqa: BLE001 -- a reply that does not parse
            return "errors", repr(error)
        if result != a + b:
            return "errors", f"add({a}, {b}) = {result!r}"
        return None

    def _persistent_client(self, client):
        connection = self._open(client)
        i = 0
        try:
            while connection is not None and self._next_call():
                i += 1
                failure = self._call(connection, i, client)
                if failure is None:
                    self._record(client, None)
                    continue
                self._record(client, *failure)
                if failure[0] == "closed_before_write":
                    i -= 1  # never reached thriftd: the same call again
                connection.close()
                connection = self._open(client)
                if connection is not None:
                    with self._lock:
                        self.counts["reconnects"] += 1
        finally:
            if connection is not None:
                connection.close()

    def _fresh_client(self, client):
        i = 0
        while self._next_call():
            connection = self._open(client)
            if connection is None:
                return
            with self._lock:
                self.counts["connections"] += 1
            i += 1
            try:
                failure = self._call(connection, i, 1)
            finally:
                connection.close()
            self._record(client, *(failure or (None, None)))

    # - waiting -

    def wait_progress(self, check, calls=0, deadline=3 * CALL_TIMEOUT):
        """Waits until every client has had at least one more call answered
        than now, and `calls` more in all. check(predicate, deadline,
        message) is the waiting function (a Thriftd's wait, or wait_until)."""
        counts, per_client = self.snapshot()
        target = counts["calls"] + calls

        def moved():
            now_counts, now_per_client = self.snapshot()
            return now_counts["calls"] >= target and all(
                now > before for now, before in zip(now_per_client, per_client))
        check(moved, deadline,
              lambda: f"every client to be answered again and {target} calls in all (have "
                      f"{self.snapshot()}; failures {self.failures})")

    def stop(self):
        """Stops the clients after their current call (answered, failed or
        timed out: nothing goes uncounted); closes their connections."""
        self._end_gaps()
        self._done.set()
        self._running.set()
        for thread in self._threads:
            thread.join(self.timeout + 30)
            if thread.is_alive():
                raise AssertionError(f"load thread {thread.name} did not stop")


# --- processes -------------------------------------------------------------------


def tree_pids(root):
    """root and its live descendants (the master, its workers and, during a
    binary upgrade, the new master and its workers)."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        if harness.is_live(pid):
            pids.append(pid)
            stack.extend(harness.child_pids(pid))
    return pids


def wait_exit(pid, deadline):
    """Blocks until process pid (not necessarily a child) has exited, and
    returns the time.monotonic() of that moment, taken as its pidfd turns
    readable (a poll would see it late by its interval and the GIL's queue
    of client threads). Raises AssertionError after `deadline` seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return time.monotonic()  # gone already
    try:
        readable, _, _ = select.select([pidfd], [], [], deadline)
        exited = time.monotonic()
    finally:
        os.close(pidfd)
    if not readable:
        raise AssertionError(f"pid {pid} still running after {deadline:g}s")
    return exited


def tree_rss_kib(root):
    """The summed VmRSS of root and its live descendants, in KiB."""
    total = 0
    for pid in tree_pids(root):
        try:
            total += harness.vm_rss_kib(pid)
        except (FileNotFoundError, ProcessLookupError, AssertionError):
            pass  # exited between the listing and the read
    return total


class RssSampler:
    """Samples tree_rss_kib(root()) every RSS_POLL seconds (its own pace) in a
    thread, keeping the peak, until stop()."""

    def __init__(self, root):
        self.root = root
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-rss", daemon=True)
        self._thread.start()

    def sample(self):
        value = tree_rss_kib(self.root())
        self.peak = max(self.peak, value)
        return value

    def _run(self):
        while not self._done.wait(RSS_POLL):
            self.sample()

    def stop(self):
        self._done.set()
        self._thread.join(10)


class LogWatch:
    """Reads a master's stderr as it grows, remembering the workers that
    logged "is ready" (every master of a binary upgrade writes there)."""

    READY = re.compile(rb"Worker \(pid:(\d+)\) is ready")

    def __init__(self, path):
        self.path = Path(path)
        self.ready = set()
        self._offset = 0
        self._partial = b""

    def poll(self):
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        data = self._partial + data
        complete, _, self._partial = data.rpartition(b"\n")
        self.ready.update(int(pid) for pid in self.READY.findall(complete))
        return self.ready


def metrics_calls(metrics_port, method="PingPong.add", outcome="ok"):
    """thriftd_requests_total{method, outcome} from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as reply:
        body = reply.read().decode()
    for line in body.splitlines():
        match = re.match(r"^thriftd_requests_total\{(.*)\} (\S+)$", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1)))
            if labels.get("method") == method and labels.get("outcome") == outcome:
                return int(float(match.group(2)))
    return 0


ACCESS_OK = re.compile(rb'"PingPong\.add" -?\d+ ok ')


def access_log_calls(path):
    """The PingPong.add calls answered ok in an access log (the default
    format), from every worker of every master that wrote to it."""
    with open(path, "rb") as log:
        return len(ACCESS_OK.findall(log.read()))


# --- the report ------------------------------------------------------------------


def summary_line(record):
    r = record
    restore = "-" if r["restore_ms"] is None else f"{r['restore_ms']:.0f}"
    return (f"chaos {r['kind']:6} {r['scenario']:12} faults {r['faults']:3} calls {r['calls']:6} "
            f"refused {r['refused']} closed-before-write {r['closed_before_write']} "
            f"lost {r['lost']} errors {r['errors']} reconnects {r['reconnects']} "
            f"max-gap {r['max_gap_ms']:.0f} ms rss {r['rss_before_kib']}/{r['rss_peak_kib']}/"
            f"{r['rss_after_kib']} KiB workers {r['workers_end']}/{r['workers_wanted']} "
            f"restore {restore} ms")


def report(record):
    """Prints the run's summary line, keeps the record for the session's
    table and appends it as a JSON line to $THRIFTD_CHAOS_REPORT when set."""
    RECORDS.append(record)
    print(summary_line(record))
    path = os.environ.get("THRIFTD_CHAOS_REPORT")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")


def table(records):
    """The records as an aligned text table, one row per run."""
    header = ("kind", "scenario", "faults", "calls", "refused", "closed", "lost", "errors",
              "reconn", "gap_ms", "rss_before", "rss_peak", "rss_after", "workers",
              "restore_ms")
    rows = [header]
    for r in records:
        rows.append((r["kind"], r["scenario"], r["faults"], r["calls"], r["refused"],
                     r["closed_before_write"], r["lost"], r["errors"], r["reconnects"],
                     f"{r['max_gap_ms']:.0f}", r["rss_before_kib"], r["rss_peak_kib"],
                     r["rss_after_kib"], f"{r['workers_end']}/{r['workers_wanted']}",
                     "-" if r["restore_ms"] is None else f"{r['restore_ms']:.0f}"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(str(v).rjust(w) for v, w in zip(row, widths)) for row in rows)


def new_random():
    """The run's random source, seeded by $THRIFTD_CHAOS_SEED when set (to
    replay a run's choice of victims); returns (random.Random, seed)."""
    seed = os.environ.get("THRIFTD_CHAOS_SEED")
    seed = int(seed) if seed else random.SystemRandom().randrange(2 ** 32)
    return random.Random(seed), seed
