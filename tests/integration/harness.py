"""The integration-test harness: run the real thriftd binary, talk to it with
real Thrift clients (Python from gen-py, C++ from thriftd_test_client), and
wait for conditions by polling -- never by sleeping a fixed time.

Paths come from the environment that `meson test` sets:
  THRIFTD_BIN        the thriftd binary
  THRIFTD_BUILD_DIR  the build root (examples/, examples/gen-py, tests/clients/)
Without them the defaults point into <repo>/build, so `pytest` can be run by hand.
"""

import contextlib
import os
import re
import signal as signal_module
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("THRIFTD_BUILD_DIR", REPO_DIR / "build"))
THRIFTD_BIN = Path(os.environ.get("THRIFTD_BIN", BUILD_DIR / "src" / "thriftd"))
PINGPONG_SO = BUILD_DIR / "examples" / "libpingpong.so"
KEYVALUE_SO = BUILD_DIR / "examples" / "libkeyvalue.so"
GEN_PY_DIR = BUILD_DIR / "examples" / "gen-py"
TEST_CLIENT = BUILD_DIR / "tests" / "clients" / "thriftd_test_client"
# Apps that fail on purpose, built from tests/integration/apps/ (meson.build there).
TEST_APPS_DIR = BUILD_DIR / "tests" / "integration"

TRANSPORTS = ("buffered", "framed", "header")
PROTOCOLS = ("binary", "compact", "json", "header")
# Every (transport, protocol) pair thriftd serves: the header protocol only
# over the header transport (config refuses it over buffered / framed).
PAIRS = tuple((t, p) for t in TRANSPORTS for p in PROTOCOLS if p != "header") + (
    ("header", "header"),)

POLL_INTERVAL = 0.02

if str(GEN_PY_DIR) not in sys.path:
    sys.path.insert(0, str(GEN_PY_DIR))


# --- waiting ------------------------------------------------------------------


def wait_until(predicate, deadline=10.0, message="condition"):
    """Polls predicate() every 20 ms until it returns a truthy value, and
    returns that value. Raises AssertionError naming `message` (a string, or a
    callable giving one, for details known only at failure) after `deadline`
    seconds. An exception raised by predicate propagates at once."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {deadline:g}s waiting for {text}")
        time.sleep(POLL_INTERVAL)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- processes ----------------------------------------------------------------


def failing_app(name):
    """The path of lib<name>.so built from tests/integration/apps/<name>.cc."""
    return TEST_APPS_DIR / f"lib{name}.so"


def run_thriftd(*args, cwd=None, env=None, deadline=20.0):
    """Runs thriftd to completion (for runs that must end by themselves: bad
    configs, --check-config, --version); returns the CompletedProcess (text).
    A run still going after `deadline` seconds is killed with its whole
    process group and fails the test."""
    full_env = dict(os.environ)
    full_env.pop("THRIFTD_CMD_ARGS", None)
    full_env.update(env or {})
    argv = [str(THRIFTD_BIN), *[str(a) for a in args]]
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal_module.SIGKILL)
        stdout, stderr = proc.communicate()
        wait_until(lambda: not group_pids(proc.pid), 5.0, "the killed thriftd's processes to go")
        raise AssertionError(f"{' '.join(argv[1:])} still running after {deadline:g}s; "
                             f"stderr:\n{stderr}") from None
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def in_handler_sleep(pid):
    """True while process pid is blocked in nanosleep: for a sync worker of
    pingpong, that means a sleep(ms) call is being served (not in poll or recv)."""
    try:
        if "nanosleep" in Path(f"/proc/{pid}/wchan").read_text():
            return True
        nr = int(Path(f"/proc/{pid}/syscall").read_text().split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, IndexError):
        return False
    # nanosleep / clock_nanosleep on x86_64 and on aarch64.
    machine = os.uname().machine
    return nr in ((35, 230) if machine == "x86_64" else (101, 115))


def vm_rss_kib(pid):
    """The resident set size of pid in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def _proc_stat(pid):
    """(state, ppid, pgrp) of pid from /proc, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces.
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _is_live(pid):
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def is_live(pid):
    """True while pid exists and is not a zombie."""
    return _is_live(pid)


def child_pids(pid):
    """The live (not zombie) child processes of pid, sorted."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        candidates = [int(c) for c in children]
    except FileNotFoundError:
        candidates = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        candidates = [p for p in candidates if (_proc_stat(p) or ("", 0, 0))[1] == pid]
    return sorted(p for p in candidates if _is_live(p))


def group_pids(pgid):
    """The live processes of process group pgid, sorted."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[2] == pgid and stat[0] not in ("Z", "X"):
                pids.append(int(entry))
    return sorted(pids)


class Thriftd:
    """One thriftd master started with `args`, in its own session (so its
    process group holds it and every worker). stdout and stderr go to files
    in `cwd`. Use it through the `thriftd` fixture, which stops it."""

    _count = 0

    def __init__(self, args, cwd, env=None, graceful=10.0):
        Thriftd._count += 1
        self.cwd = Path(cwd)
        self.args = [str(a) for a in args]
        self.graceful = graceful
        self.stderr_path = self.cwd / f"thriftd-{Thriftd._count}.stderr"
        self.stdout_path = self.cwd / f"thriftd-{Thriftd._count}.stdout"
        self.seen_workers = set()
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(THRIFTD_BIN), *self.args],
                cwd=self.cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.pid = self.proc.pid

    # - observing -

    def running(self):
        return self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.poll()

    def log(self):
        """Everything thriftd wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def log_mark(self):
        """The current end of the log, for wait_for_log(since=...)."""
        return len(self.log())

    def worker_pids(self):
        """The master's live child processes, sorted."""
        pids = child_pids(self.pid)
        self.seen_workers.update(pids)
        return pids

    def _check_running(self):
        if not self.running():
            raise AssertionError(
                f"thriftd exited with {self.proc.returncode}; stderr:\n{self.log()}")

    def wait(self, predicate, deadline=10.0, message="condition"):
        """wait_until(predicate), but fails at once (with the log) if thriftd exits."""
        def check():
            self._check_running()
            return predicate()
        return wait_until(check, deadline,
                          lambda: f"{message() if callable(message) else message}; "
                                  f"workers {self.worker_pids()}; stderr:\n{self.log()}")

    def wait_for_log(self, regex, deadline=10.0, since=0):
        """Waits until the log after offset `since` matches regex; returns the match."""
        pattern = re.compile(regex, re.MULTILINE)
        return wait_until(lambda: pattern.search(self.log(), since), deadline,
                          lambda: f"log line /{regex}/; stderr:\n{self.log()}")

    def wait_workers(self, workers, deadline=10.0):
        """Waits until the master has exactly `workers` live children; returns their pids."""
        def ready():
            self._check_running()
            pids = self.worker_pids()
            return pids if len(pids) == workers else None
        return wait_until(ready, deadline,
                          lambda: f"{workers} workers (have {self.worker_pids()}); "
                                  f"stderr:\n{self.log()}")

    def wait_ready(self, port=None, workers=1, deadline=10.0, unix=None, service="pingpong",
                   transport="buffered", protocol="binary"):
        """Waits until the master has `workers` live children and a call over
        `port` (or unix socket path `unix`) answers; returns the worker pids.
        The probe is ping() for pingpong and getValue() for keyvalue (where
        NotFoundError counts as an answer). Fails at once if thriftd exits."""
        end = time.monotonic() + deadline
        pids = self.wait_workers(workers, deadline)
        address = unix if unix is not None else port

        def answers():
            self._check_running()
            try:
                probe(address, service, transport, protocol, timeout=1.0)
                return True
            except Exception:  # not listening yet, or a worker still booting
                return False
        wait_until(answers, max(end - time.monotonic(), 0.1),
                   lambda: f"a {service} call on {address}; stderr:\n{self.log()}")
        return self.wait_workers(workers, max(end - time.monotonic(), 0.1)) or pids

    # - acting -

    def signal(self, sig):
        """Sends sig (a number or a name like "HUP" / "SIGHUP") to the master."""
        if isinstance(sig, str):
            sig = getattr(signal_module, sig if sig.startswith("SIG") else "SIG" + sig)
        os.kill(self.pid, sig)

    def wait_exit(self, deadline=10.0):
        """Waits for the master to exit; returns its exit code (-N for signal N)."""
        try:
            return self.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"thriftd still running after {deadline:g}s; stderr:\n{self.log()}") from None

    def stop(self):
        """Teardown: SIGTERM, then after `graceful` seconds SIGKILL to the whole
        process group; reaps the master and makes sure no process of the group
        (nor any worker ever seen) is left. Returns True if it stopped by itself."""
        graceful_exit = True
        if self.running():
            self.signal(signal_module.SIGTERM)
            try:
                self.proc.wait(timeout=self.graceful)
            except subprocess.TimeoutExpired:
                graceful_exit = False
        leftovers = set(group_pids(self.pid)) | {p for p in self.seen_workers if _is_live(p)}
        if leftovers or self.running():
            graceful_exit = graceful_exit and not leftovers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal_module.SIGKILL)
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal_module.SIGKILL)
        self.proc.wait(timeout=10)
        wait_until(lambda: not group_pids(self.pid) and
                   not [p for p in self.seen_workers if _is_live(p)],
                   5.0, lambda: f"thriftd's processes to go: {group_pids(self.pid)}")
        return graceful_exit


# --- Python clients -----------------------------------------------------------


def _service_module(service):
    if service == "pingpong":
        from pingpong import PingPong
        return PingPong
    if service == "keyvalue":
        from keyvalue import KeyValue
        return KeyValue
    raise ValueError(f"unknown service {service!r}")


def make_python_protocol(address, transport="buffered", protocol="binary", timeout=5.0):
    """(transport to open/close, protocol) for a connection to address: a port
    on 127.0.0.1, a (host, port) pair, or a unix socket path (str / Path)."""
    from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol, TJSONProtocol
    from thrift.transport import THeaderTransport, TSocket, TTransport

    if isinstance(address, int):
        sock = TSocket.TSocket("127.0.0.1", address)
    elif isinstance(address, tuple):
        sock = TSocket.TSocket(*address)
    else:
        sock = TSocket.TSocket(unix_socket=str(address))
    if timeout is not None:
        sock.setTimeout(timeout * 1000)

    headers_only = [THeaderTransport.THeaderClientType.HEADERS]
    if protocol == "header":
        if transport != "header":
            raise ValueError("protocol 'header' needs transport 'header'")
        # THeaderProtocol wraps the socket in its own THeaderTransport.
        return sock, THeaderProtocol.THeaderProtocol(sock, headers_only)

    if transport == "buffered":
        trans = TTransport.TBufferedTransport(sock)
    elif transport == "framed":
        trans = TTransport.TFramedTransport(sock)
    elif transport == "header":
        sub = (THeaderTransport.THeaderSubprotocolID.COMPACT if protocol == "compact"
               else THeaderTransport.THeaderSubprotocolID.BINARY)
        trans = THeaderTransport.THeaderTransport(sock, headers_only, sub)
    else:
        raise ValueError(f"unknown transport {transport!r}")

    if protocol == "binary":
        return trans, TBinaryProtocol.TBinaryProtocol(trans)
    if protocol == "compact":
        return trans, TCompactProtocol.TCompactProtocol(trans)
    if protocol == "json":
        return trans, TJSONProtocol.TJSONProtocol(trans)
    raise ValueError(f"unknown protocol {protocol!r}")


@contextlib.contextmanager
def py_client(address, service="pingpong", transport="buffered", protocol="binary",
              timeout=5.0):
    """A connected generated client (pingpong.PingPong.Client or
    keyvalue.KeyValue.Client); closed on exit. `timeout` is in seconds."""
    module = _service_module(service)
    trans, proto = make_python_protocol(address, transport, protocol, timeout)
    trans.open()
    try:
        yield module.Client(proto)
    finally:
        trans.close()


def probe(address, service="pingpong", transport="buffered", protocol="binary", timeout=1.0):
    """One call that proves the service answers; raises if it does not."""
    with py_client(address, service, transport, protocol, timeout) as client:
        if service == "pingpong":
            reply = client.ping()
            if reply != "pong":
                raise AssertionError(f"ping replied {reply!r}")
        else:
            from keyvalue.ttypes import NotFoundError
            with contextlib.suppress(NotFoundError):
                client.getValue("thriftd-harness-probe")


# --- the C++ client -----------------------------------------------------------


class CppClientError(AssertionError):
    def __init__(self, result):
        self.result = result
        super().__init__(f"thriftd_test_client {' '.join(result.args[1:])} exited "
                         f"{result.returncode}; stderr: {result.stderr.strip()}")


def run_cpp_client(address, transport="buffered", protocol="binary", *commands,
                   timeout_ms=10000, deadline=60.0):
    """Runs thriftd_test_client; returns the CompletedProcess (text) whatever
    its exit code. address: a port on 127.0.0.1, (host, port), or a unix path."""
    if isinstance(address, int):
        where = ["--host", "127.0.0.1", "--port", str(address)]
    elif isinstance(address, tuple):
        where = ["--host", address[0], "--port", str(address[1])]
    else:
        where = ["--unix", str(address)]
    argv = [str(TEST_CLIENT), *where, "--transport", transport, "--protocol", protocol,
            "--timeout-ms", str(timeout_ms), *[str(c) for c in commands]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=deadline)


def cpp_client(address, transport="buffered", protocol="binary", *commands, **kwargs):
    """Runs the commands (e.g. "ping", "add", 1, 2) on one connection; returns
    the stdout lines. Raises CppClientError (with stderr) if it fails."""
    result = run_cpp_client(address, transport, protocol, *commands, **kwargs)
    if result.returncode != 0:
        raise CppClientError(result)
    return result.stdout.splitlines()
