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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
# Absolute: thriftd runs with each test's temporary directory as its cwd.
BUILD_DIR = Path(os.environ.get("THRIFTD_BUILD_DIR", REPO_DIR / "build")).resolve()
THRIFTD_BIN = Path(os.environ.get("THRIFTD_BIN", BUILD_DIR / "src" / "thriftd")).resolve()
PINGPONG_SO = BUILD_DIR / "examples" / "libpingpong.so"
KEYVALUE_SO = BUILD_DIR / "examples" / "libkeyvalue.so"
GEN_PY_DIR = BUILD_DIR / "examples" / "gen-py"
TEST_CLIENT = BUILD_DIR / "tests" / "clients" / "thriftd_test_client"
# Apps that fail on purpose, built from tests/integration/apps/ (meson.build there).
TEST_APPS_DIR = BUILD_DIR / "tests" / "integration"
# The Blocker App (apps/blocker.thrift): block(ms) blocks its thread.
BLOCKER_SO = TEST_APPS_DIR / "libblocker_app.so"
BLOCKER_GEN_PY_DIR = TEST_APPS_DIR / "gen-py"
# The Everything App (apps/everything.thrift): echoes every Thrift type.
EVERYTHING_SO = TEST_APPS_DIR / "libeverything_app.so"
EVERYTHING_IDL = REPO_DIR / "tests" / "integration" / "apps" / "everything.thrift"
# The example custom worker kind (examples/custom_worker/).
CUSTOM_WORKER_SO = BUILD_DIR / "examples" / "custom_worker" / "libcustom_worker.so"

# The built-in worker kinds, and the arguments that select each in tests: the
# thread kind with a pool of 4 (its default of 1 would serve like sync).
ALL_KINDS = ("sync", "thread", "fiber")
# THRIFTD_TEST_KINDS narrows the kinds the per-kind tests run for: .ci/run's
# ThreadSanitizer build skips sync, whose worker has one thread (the master
# and base code it would run are run there by the other kinds), to stay
# inside CI's time budget.
KINDS = tuple(os.environ.get("THRIFTD_TEST_KINDS", " ".join(ALL_KINDS)).split())
if not KINDS or set(KINDS) - set(ALL_KINDS):
    raise ValueError(f"THRIFTD_TEST_KINDS: expected some of {' '.join(ALL_KINDS)}, "
                     f"got {os.environ.get('THRIFTD_TEST_KINDS')!r}")
KIND_ARGS = {"sync": ("-k", "sync"), "thread": ("-k", "thread", "--threads", "4"),
             "fiber": ("-k", "fiber")}


def worker_abi_version():
    """kWorkerAbiVersion, as include/thriftd/worker.h declares it."""
    text = (REPO_DIR / "include" / "thriftd" / "worker.h").read_text()
    return int(re.search(r"kWorkerAbiVersion\s*=\s*(\d+)", text).group(1))


def kind_args(kind):
    """The command-line arguments selecting worker kind `kind` (see KIND_ARGS)."""
    return list(KIND_ARGS[kind])


def kind_yaml(kind):
    """The config-file lines selecting worker kind `kind`."""
    args = KIND_ARGS[kind]
    text = f"worker_class: {args[1]}\n"
    if "--threads" in args:
        text += f"threads: {args[args.index('--threads') + 1]}\n"
    return text

TRANSPORTS = ("buffered", "framed", "header", "zlib")
PROTOCOLS = ("binary", "compact", "json", "header")
# Every (transport, protocol) pair thriftd serves: the header protocol over
# the header transport, or inside framed frames (config refuses buffered).
PAIRS = tuple((t, p) for t in TRANSPORTS for p in PROTOCOLS if p != "header") + (
    ("header", "header"), ("framed", "header"))

POLL_INTERVAL = 0.02

# Under a sanitizer (CI's ASan and TSan runs set these) everything is several
# times slower, and TSan delays signal handlers: tests that measure how soon
# something happens against a fixed bound check the bound only without one.
SANITIZED = any(os.environ.get(name) for name in ("ASAN_OPTIONS", "TSAN_OPTIONS"))

for _gen_py in (GEN_PY_DIR, BLOCKER_GEN_PY_DIR):
    if str(_gen_py) not in sys.path:
        sys.path.insert(0, str(_gen_py))


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


# Ports free_port() has handed out in this process: the kernel may offer a
# port again as soon as its probe socket is closed, and a test that asks for
# two ports before binding either (a Thrift port and a metrics port) got the
# same one twice.
_ports_handed_out = set()


def _xdist_share():
    """(this pytest-xdist worker's index, the number of workers); (0, 1)
    when the tests run in one process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count <= 1:
        return 0, 1
    return int(worker[2:]), count


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, never handed out
    before by this process. Under pytest-xdist each worker takes only the
    ports whose number halved, modulo the worker count, is its index, so two
    test processes never pick the same one. (Halved: Linux gives bind() to
    port 0 odd ports, keeping the even ones for connect().)"""
    index, count = _xdist_share()
    probes = []  # held open while looking, so the kernel offers other ports
    try:
        for _ in range(100 * count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            if (port // 2) % count == index and port not in _ports_handed_out:
                _ports_handed_out.add(port)
                return port
    finally:
        for probe in probes:
            probe.close()
    raise AssertionError(f"no free port for xdist worker {index} of {count}")


# --- processes ----------------------------------------------------------------


def failing_app(name):
    """The path of lib<name>.so built from tests/integration/apps/<name>.cc."""
    return TEST_APPS_DIR / f"lib{name}.so"


def run_thriftd(*args, cwd=None, env=None, deadline=20.0, input=None):
    """Runs thriftd to completion (for runs that must end by themselves: bad
    configs, --check-config, --version, `thriftd call`), with `input` (text)
    on its stdin if given; returns the CompletedProcess (text).
    A run still going after `deadline` seconds is killed with its whole
    process group and fails the test."""
    full_env = dict(os.environ)
    full_env.pop("THRIFTD_CMD_ARGS", None)
    full_env.update(env or {})
    argv = [str(THRIFTD_BIN), *[str(a) for a in args]]
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env,
                            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(input=input, timeout=deadline)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal_module.SIGKILL)
        stdout, stderr = proc.communicate()
        wait_until(lambda: not group_pids(proc.pid), 5.0, "the killed thriftd's processes to go")
        raise AssertionError(f"{' '.join(argv[1:])} still running after {deadline:g}s; "
                             f"stderr:\n{stderr}") from None
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _vm_status_kib(pid, field):
    """A memory figure of pid in KiB (VmRSS, VmHWM) from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def vm_rss_kib(pid):
    """The resident set size of pid in KiB, from /proc/<pid>/status."""
    return _vm_status_kib(pid, "VmRSS")


def reset_peak_rss(pids):
    """Starts measuring each pid's peak RSS afresh (writing 5 to its
    /proc/PID/clear_refs sets VmHWM to the RSS now); returns {pid: VmRSS
    KiB now}, for peak_rss_growth_kib. A peak, not the RSS afterwards: a
    worker that buffered a large frame and freed it at the close is back
    to its old RSS by the time a test looks, but not to its old peak."""
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return {pid: vm_rss_kib(pid) for pid in pids}


def peak_rss_growth_kib(before):
    """{pid: KiB its peak RSS rose above before[pid]}, since reset_peak_rss."""
    return {pid: _vm_status_kib(pid, "VmHWM") - kib for pid, kib in before.items()}


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


# x86-64 numbers of the system calls a thriftd process waits in.
_WAITING_SYSCALLS = {0: "read", 7: "poll", 23: "select", 35: "nanosleep", 61: "wait4",
                     202: "futex", 230: "clock_nanosleep", 232: "epoll_wait",
                     281: "epoll_pwait", 288: "accept4"}


def describe_threads(pids):
    """Each thread of `pids`: its state and the system call it is in (from
    /proc), one line each; for a test that timed out waiting for a process
    to end."""
    lines = []
    for pid in pids:
        try:
            tasks = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
        for tid in tasks:
            task = f"/proc/{pid}/task/{tid}"
            try:
                state = Path(f"{task}/stat").read_text().rsplit(")", 1)[1].split()[0]
                comm = Path(f"{task}/comm").read_text().strip()
                call = Path(f"{task}/syscall").read_text().split()[0]
            except (OSError, IndexError):
                continue
            name = _WAITING_SYSCALLS.get(int(call), f"syscall {call}") if call.isdigit() else call
            lines.append(f"  pid {pid} thread {tid} ({comm}): {state}, in {name}\n")
    return "".join(lines)


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

    def __init__(self, args, cwd, env=None, graceful=10.0, binary=None):
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
                [str(binary or THRIFTD_BIN), *self.args],
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
                   transport="buffered", protocol="binary", tls=None):
        """Waits until the master has `workers` live children, each of which
        the master logged as ready, and a call over `port` (or unix socket path
        `unix`; over TLS with `tls`, a TlsClient) answers; returns the worker pids. The probe is ping() for
        pingpong and blocker, getValue() for keyvalue (where NotFoundError
        counts as an answer). Fails at once if thriftd exits."""
        end = time.monotonic() + deadline
        pids = self.wait_workers(workers, deadline)
        address = unix if unix is not None else port

        def answers():
            self._check_running()
            try:
                probe(address, service, transport, protocol, timeout=1.0, tls=tls)
                return True
            except Exception:  # not listening yet, or a worker still booting
                return False
        wait_until(answers, max(end - time.monotonic(), 0.1),
                   lambda: f"a {service} call on {address}; stderr:\n{self.log()}")
        pids = self.wait_workers(workers, max(end - time.monotonic(), 0.1)) or pids

        def all_ready():
            # The live workers again at each look: one seen booting may be a
            # replacement that fails and is replaced in turn, and never ready.
            self._check_running()
            live = self.worker_pids()
            log = self.log()
            ready = len(live) == workers and all(f"Worker (pid:{pid}) is ready" in log
                                                 for pid in live)
            return live if ready else None
        # A worker still booting accepts nothing: a test that spreads a burst
        # over the workers must not start before they all listen. (When the
        # error log goes to a file, stderr does not say; the call answered.)
        if "Booting worker with pid" in self.log():
            pids = wait_until(all_ready, max(end - time.monotonic(), 0.1),
                              lambda: f"{workers} workers to be ready (have "
                                      f"{self.worker_pids()}); stderr:\n{self.log()}")
        return pids

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
                f"thriftd still running after {deadline:g}s; where its processes wait:\n"
                f"{describe_threads([self.pid, *child_pids(self.pid)])}stderr:\n"
                f"{self.log()}") from None

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


# --- TLS ----------------------------------------------------------------------


class TlsFiles:
    """Certificates made by the openssl CLI in `directory` for the TLS tests:
    a CA (ca.pem), a server certificate it signed for 127.0.0.1 and localhost
    (server.pem, server.key), a client certificate it signed (client.pem,
    client.key; subject CN=alice,O=thriftd tests), and a second, unrelated CA
    with a client certificate of its own (stranger.pem, stranger.key). P-256
    keys: quick to make."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = self.dir / "ca.pem"
        self.server_cert = self.dir / "server.pem"
        self.server_key = self.dir / "server.key"
        self.client_cert = self.dir / "client.pem"
        self.client_key = self.dir / "client.key"
        self.stranger_cert = self.dir / "stranger.pem"
        self.stranger_key = self.dir / "stranger.key"
        self._self_signed("ca", "/CN=thriftd test CA")
        self._self_signed("stranger-ca", "/CN=another CA")
        self.sign("server", "/CN=localhost", "ca",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.sign("client", "/O=thriftd tests/CN=alice", "ca")
        self.sign("stranger", "/CN=mallory", "stranger-ca")

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True,
                       timeout=30)

    def _self_signed(self, name, subject):
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                      "-subj", subject)

    def sign(self, name, subject, ca, extension=None):
        """Makes <name>.key and <name>.pem, signed by <ca>.pem; returns the
        certificate's path."""
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        args = ["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
                f"{ca}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2"]
        if extension:
            (self.dir / f"{name}.ext").write_text(extension + "\n")
            args += ["-extfile", f"{name}.ext"]
        self._openssl(*args)
        return self.dir / f"{name}.pem"

    def server_args(self):
        """thriftd's flags serving TLS with the server certificate."""
        return ["--certfile", str(self.server_cert), "--keyfile", str(self.server_key)]

    def client(self, with_certificate=False):
        """A TlsClient trusting the CA, presenting the client certificate
        when asked."""
        if with_certificate:
            return TlsClient(self.ca, self.client_cert, self.client_key)
        return TlsClient(self.ca)


class TlsClient:
    """What a TLS client uses: the CAs it verifies the server against, and
    optionally its own certificate and key."""

    def __init__(self, ca, cert=None, key=None):
        self.ca, self.cert, self.key = ca, cert, key


def s_client(port, *options, deadline=20.0):
    """Runs `openssl s_client` against 127.0.0.1:port with `options`, with
    nothing to send (it ends after the handshake); returns the
    CompletedProcess (text, stdout and stderr together)."""
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options],
                          input="", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=deadline)


# --- Python clients -----------------------------------------------------------


def _service_module(service):
    if service == "pingpong":
        from pingpong import PingPong
        return PingPong
    if service == "keyvalue":
        from keyvalue import KeyValue
        return KeyValue
    if service == "blocker":
        from blocker import Blocker
        return Blocker
    if service == "admin":  # the services test App's second service
        from admin import Admin
        return Admin
    raise ValueError(f"unknown service {service!r}")


def make_python_protocol(address, transport="buffered", protocol="binary", timeout=5.0,
                         transform=None, tls=None):
    """(transport to open/close, protocol) for a connection to address: a port
    on 127.0.0.1, a (host, port) pair, or a unix socket path (str / Path).
    transform="zlib": the header transport's zlib transform on every call.
    With `tls` (a TlsClient), over Thrift's TSSLSocket."""
    _, trans, proto = _make_python_stack(address, transport, protocol, timeout, tls)
    if transform is not None:
        from thrift.transport.THeaderTransport import THeaderTransformID, THeaderTransport
        header = proto.trans
        if transform != "zlib" or not isinstance(header, THeaderTransport):
            raise ValueError(f"transform {transform!r} needs the header transport or protocol")
        header.add_transform(THeaderTransformID.ZLIB)
    return trans, proto


def _make_python_stack(address, transport, protocol, timeout, tls=None):
    """(TSocket, transport to open/close, protocol) for make_python_protocol."""
    from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol, TJSONProtocol
    from thrift.transport import THeaderTransport, TSocket, TTransport, TZlibTransport

    if tls is not None:
        import ssl

        from thrift.transport import TSSLSocket
        host, tls_port = ("127.0.0.1", address) if isinstance(address, int) else address
        extra = {"certfile": str(tls.cert), "keyfile": str(tls.key)} if tls.cert else {}
        sock = TSSLSocket.TSSLSocket(host, tls_port, cert_reqs=ssl.CERT_REQUIRED,
                                     ca_certs=str(tls.ca), **extra)
    elif isinstance(address, int):
        sock = TSocket.TSocket("127.0.0.1", address)
    elif isinstance(address, tuple):
        sock = TSocket.TSocket(*address)
    else:
        sock = TSocket.TSocket(unix_socket=str(address))
    if timeout is not None:
        sock.setTimeout(timeout * 1000)

    headers_only = [THeaderTransport.THeaderClientType.HEADERS]
    if protocol == "header":
        # THeaderProtocol wraps what it is given in its own THeaderTransport;
        # over framed, as Apache Thrift's test/py/TestClient.py does.
        if transport == "header":
            return sock, sock, THeaderProtocol.THeaderProtocol(sock, headers_only)
        if transport == "framed":
            framed = TTransport.TFramedTransport(sock)
            return sock, framed, THeaderProtocol.THeaderProtocol(framed, headers_only)
        raise ValueError("protocol 'header' needs transport 'header' or 'framed'")

    if transport == "buffered":
        trans = TTransport.TBufferedTransport(sock)
    elif transport == "framed":
        trans = TTransport.TFramedTransport(sock)
    elif transport == "zlib":
        # As Apache Thrift's test/py/TestClient.py builds it for --zlib.
        trans = TZlibTransport.TZlibTransport(TTransport.TBufferedTransport(sock), 9)
    elif transport == "header":
        sub = (THeaderTransport.THeaderSubprotocolID.COMPACT if protocol == "compact"
               else THeaderTransport.THeaderSubprotocolID.BINARY)
        trans = THeaderTransport.THeaderTransport(sock, headers_only, sub)
    else:
        raise ValueError(f"unknown transport {transport!r}")

    if protocol == "binary":
        return sock, trans, TBinaryProtocol.TBinaryProtocol(trans)
    if protocol == "compact":
        return sock, trans, TCompactProtocol.TCompactProtocol(trans)
    if protocol == "json":
        return sock, trans, TJSONProtocol.TJSONProtocol(trans)
    raise ValueError(f"unknown protocol {protocol!r}")


@contextlib.contextmanager
def py_client(address, service="pingpong", transport="buffered", protocol="binary",
              timeout=5.0, transform=None, tls=None):
    """A connected generated client (pingpong.PingPong.Client or
    keyvalue.KeyValue.Client); closed on exit. `timeout` is in seconds;
    transform="zlib": the header transport's zlib transform; `tls` (a
    TlsClient): over TLS."""
    module = _service_module(service)
    trans, proto = make_python_protocol(address, transport, protocol, timeout, transform, tls)
    trans.open()
    try:
        yield module.Client(proto)
    finally:
        trans.close()


class Connection:
    """An open client connection whose socket the test can see: `client` (the
    generated client), `local_port` (TCP only: the client's port, which
    thriftd logs and /proc/net/tcp shows), close(). A context manager.
    `tls`: a TlsFiles client (TlsFiles.client()) to speak TLS."""

    def __init__(self, address, service="pingpong", transport="buffered", protocol="binary",
                 timeout=5.0, tls=None):
        module = _service_module(service)
        self._sock, self._trans, proto = _make_python_stack(address, transport, protocol, timeout,
                                                            tls)
        self._trans.open()
        self.client = module.Client(proto)
        name = self._sock.handle.getsockname()
        self.local_port = name[1] if isinstance(name, tuple) else None

    @property
    def socket(self):
        """The underlying socket.socket (to select() on it, or to read EOF)."""
        return self._sock.handle

    def close(self):
        self._trans.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_call(pool, address, method, *args, service="pingpong", timeout=30.0, **kwargs):
    """Opens a connection, SENDS method(*args) on it before returning, and
    receives the reply in `pool`. Returns (future, connection): the future
    gives the call's result (the connection is closed once it is done), and
    connection.local_port identifies the connection for wait_call_read()."""
    connection = Connection(address, service, timeout=timeout, **kwargs)
    try:
        getattr(connection.client, "send_" + method)(*args)
    except BaseException:
        connection.close()
        raise

    def receive():
        try:
            return getattr(connection.client, "recv_" + method)()
        finally:
            connection.close()
    return pool.submit(receive), connection


@contextlib.contextmanager
def python_pingpong_server(listener, transport_factory):
    """Apache Thrift's own Python TSimpleServer serving PingPong (add, ping)
    on `listener` (a TServerSocket or TSSLServerSocket for 127.0.0.1 and a
    port of its own), in a thread of this process: a server that is not
    thriftd, for the clients thriftd ships. Yields "127.0.0.1:PORT" once it
    listens; shuts it down and joins the thread on exit."""
    from pingpong import PingPong
    from thrift.protocol import TBinaryProtocol
    from thrift.server import TServer

    class Handler:
        def add(self, a, b):
            return a + b

        def ping(self):
            return "pong"

    server = TServer.TSimpleServer(PingPong.Processor(Handler()), listener, transport_factory,
                                   TBinaryProtocol.TBinaryProtocolFactory())

    def serve():
        with contextlib.suppress(OSError, ValueError):  # the shutdown below ends accept()
            server.serve()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.port

    def listening():
        with socket.socket() as connection:
            return connection.connect_ex(("127.0.0.1", port)) == 0
    try:
        wait_until(listening, message="the Python Thrift server to listen")
        yield f"127.0.0.1:{port}"
    finally:
        if listener.handle is not None:
            listener.handle.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        thread.join(5)
        listener.close()
        assert not thread.is_alive()


def probe(address, service="pingpong", transport="buffered", protocol="binary", timeout=1.0,
          tls=None):
    """One call that proves the service answers; raises if it does not."""
    with py_client(address, service, transport, protocol, timeout, tls=tls) as client:
        if service in ("pingpong", "blocker"):
            reply = client.ping()
            if reply != "pong":
                raise AssertionError(f"ping replied {reply!r}")
        else:
            from keyvalue.ttypes import NotFoundError
            with contextlib.suppress(NotFoundError):
                client.getValue("thriftd-harness-probe")


# --- max_requests -------------------------------------------------------------


def recycled_workers(server):
    """The workers that reached max_requests and have exited since."""
    log = server.log()
    retired = set(re.findall(r"Worker \(pid:(\d+)\) reached max_requests", log))
    exited = set(re.findall(r"Worker \(pid:(\d+)\) exited with code 0", log))
    return retired & exited


def call_through_recycles(server, port, clients, persistent, min_calls=400, min_recycles=3):
    """For thriftd running pingpong with max_requests and 2 workers:
    `clients` threads call add(i, 1) over and over, on one connection each
    (persistent) or on a new connection per call, until at least `min_calls`
    calls were answered and `min_recycles` workers were replaced meanwhile.
    Asserts that no call failed, and that 2 workers serve afterwards."""
    done = threading.Event()
    answered = [0] * clients

    def run(index):
        failures = []
        connection = Connection(port, timeout=10.0) if persistent else None
        try:
            i = 0
            while not done.is_set():
                i += 1
                try:
                    if persistent:
                        result = connection.client.add(i, 1)
                    else:
                        with py_client(port, timeout=10.0) as client:
                            result = client.add(i, 1)
                    assert result == i + 1, f"add({i}, 1) = {result}"
                    answered[index] += 1
                except Exception as error:  # noqa: BLE001 -- counted and reported
                    failures.append(f"client {index} call {i}: {type(error).__name__}: {error}")
                    if persistent:  # carry on, on a new connection
                        connection.close()
                        connection = Connection(port, timeout=10.0)
        finally:
            if connection is not None:
                connection.close()
        return failures

    with ThreadPoolExecutor(clients) as pool:
        runs = [pool.submit(run, index) for index in range(clients)]
        try:
            server.wait(lambda: sum(answered) >= min_calls and
                        len(recycled_workers(server)) >= min_recycles, 30.0,
                        lambda: f"{min_calls} calls and {min_recycles} recycles (have "
                                f"{sum(answered)} calls, {len(recycled_workers(server))} recycles)")
        finally:
            done.set()
        failures = [f for run in runs for f in run.result(timeout=30)]
    assert failures == [], f"{len(failures)} calls failed, first: {failures[0]!r}"
    # Things settle at 2 workers, and the service answers.
    server.wait_workers(2)
    with py_client(port) as client:
        assert client.ping() == "pong"


# --- connections as the kernel sees them ---------------------------------------


class TcpSocket:
    """One row of /proc/net/tcp: ports, state (hex, "01" = ESTABLISHED),
    bytes queued unacknowledged (tx) and unread (rx), and the inode (0 while
    a connection waits in a listen backlog, not accepted yet)."""

    __slots__ = ("local_port", "remote_port", "state", "tx", "rx", "inode")

    def __init__(self, fields):
        self.local_port = int(fields[1].rsplit(":", 1)[1], 16)
        self.remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        self.state = fields[3]
        tx, rx = fields[4].split(":")
        self.tx, self.rx = int(tx, 16), int(rx, 16)
        self.inode = int(fields[9])

    # ss's state names, as /proc/net/tcp's hex codes.
    _SS_STATES = {"ESTAB": "01", "SYN-SENT": "02", "SYN-RECV": "03", "FIN-WAIT-1": "04",
                  "FIN-WAIT-2": "05", "TIME-WAIT": "06", "UNCONN": "07", "CLOSE-WAIT": "08",
                  "LAST-ACK": "09", "LISTEN": "0A", "CLOSING": "0B"}

    @classmethod
    def from_ss(cls, fields):
        """One line of `ss -Htane`: STATE RECV-Q SEND-Q LOCAL PEER [ino:N ...]."""
        self = cls.__new__(cls)
        self.state = cls._SS_STATES[fields[0]]
        self.rx, self.tx = int(fields[1]), int(fields[2])
        self.local_port = int(fields[3].rsplit(":", 1)[1])
        peer = fields[4].rsplit(":", 1)[1]
        self.remote_port = 0 if peer == "*" else int(peer)
        self.inode = next((int(f[4:]) for f in fields[5:] if f.startswith("ino:")), 0)
        return self

    @property
    def established(self):
        return self.state == "01"


def tcp_sockets(port=None):
    """Every IPv4 TCP socket of this network namespace (tests bind 127.0.0.1),
    or those with `port` at either end. Give the port: a busy host holds tens
    of thousands of sockets (TIME_WAIT), and the kernel takes seconds under
    load to list them all in /proc/net/tcp, longer than some of the windows
    the tests look into; for one port, `ss` (iproute2) has the kernel filter
    them (inet_diag), in milliseconds."""
    if port is None:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
        return [TcpSocket(line.split()) for line in lines if line.strip()]
    out = subprocess.run(["ss", "-Htane", "-4", f"( sport = :{port} or dport = :{port} )"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return [TcpSocket.from_ss(line.split()) for line in out.splitlines() if line.strip()]


def socket_inodes(pid):
    """The inodes of the sockets process pid holds open (empty if it is gone)."""
    inodes = set()
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return inodes
    for entry in entries:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def connections_per_worker(worker_pids, port, established_only=True):
    """{pid: established connections to `port` that the worker holds}, from
    /proc/net/tcp matched against each worker's open descriptors. With
    established_only=False, also those the peer closed and the worker has not
    closed yet (CLOSE_WAIT), i.e. every descriptor of a connection it holds."""
    served = {s.inode for s in tcp_sockets(port)
              if s.local_port == port and s.inode and s.state != "0A"
              and (s.established or not established_only)}
    return {pid: len(socket_inodes(pid) & served) for pid in worker_pids}


def call_was_read(port, client_port):
    """True once a worker has accepted the connection from client_port to
    `port` and read every byte the client sent: the call sent on it is being
    served. Works for every worker kind, including fiber, whose sleeping
    handlers show no system call (a sync worker would be in nanosleep)."""
    server_side = client_side = None
    for s in tcp_sockets(port):
        if s.local_port == port and s.remote_port == client_port and s.established:
            server_side = s
        elif s.local_port == client_port and s.remote_port == port:
            client_side = s
    return (server_side is not None and client_side is not None and server_side.inode != 0
            and server_side.rx == 0 and client_side.tx == 0)


def bytes_received_per_client(port):
    """{client port: bytes the server side received so far} for the
    established connections to `port`, from `ss -tni` (iproute2), for clients
    whose port the test cannot know (the C++ client)."""
    out = subprocess.run(["ss", "-tniH", "state", "established", "sport", "=", f":{port}"],
                         capture_output=True, text=True, check=True).stdout
    received = {}
    client = None
    for line in out.splitlines():
        if not line[:1].isspace():
            # "RECV-Q SEND-Q LOCAL:PORT PEER:PORT"
            client = int(line.split()[3].rsplit(":", 1)[1])
            received[client] = 0
        elif client is not None:
            match = re.search(r"\bbytes_received:(\d+)", line)
            if match:
                received[client] = int(match.group(1))
    return received


def wait_call_read(server, port, connection, deadline=10.0):
    """Waits until the call already sent on `connection` (see start_call) is
    in a worker's hands (call_was_read)."""
    server.wait(lambda: call_was_read(port, connection.local_port), deadline,
                f"the call from 127.0.0.1:{connection.local_port} to be read by a worker")


# --- the C++ client -----------------------------------------------------------


class CppClientError(AssertionError):
    def __init__(self, result):
        self.result = result
        super().__init__(f"thriftd_test_client {' '.join(result.args[1:])} exited "
                         f"{result.returncode}; stderr: {result.stderr.strip()}")


# thriftd_test_client's exit status when a call fails: a Thrift or transport
# error, or a wrong reply (2 is its usage error, which no test means to make).
CPP_CLIENT_ERROR = 1


def run_cpp_client(address, transport="buffered", protocol="binary", *commands,
                   timeout_ms=10000, deadline=60.0, transform=None, tls=None):
    """Runs thriftd_test_client; returns the CompletedProcess (text) whatever
    its exit code. address: a port on 127.0.0.1, (host, port), or a unix path;
    `tls` (a TlsClient): over Apache Thrift's C++ TSSLSocket."""
    if isinstance(address, int):
        where = ["--host", "127.0.0.1", "--port", str(address)]
    elif isinstance(address, tuple):
        where = ["--host", address[0], "--port", str(address[1])]
    else:
        where = ["--unix", str(address)]
    argv = [str(TEST_CLIENT), *where, "--transport", transport, "--protocol", protocol,
            *(["--transform", transform] if transform else []),
            "--timeout-ms", str(timeout_ms)]
    if tls is not None:
        argv += ["--tls-ca", str(tls.ca)]
        if tls.cert:
            argv += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    argv += [str(c) for c in commands]
    return subprocess.run(argv, capture_output=True, text=True, timeout=deadline)


def cpp_client(address, transport="buffered", protocol="binary", *commands, **kwargs):
    """Runs the commands (e.g. "ping", "add", 1, 2) on one connection; returns
    the stdout lines. Raises CppClientError (with stderr) if it fails."""
    result = run_cpp_client(address, transport, protocol, *commands, **kwargs)
    if result.returncode != 0:
        raise CppClientError(result)
    return result.stdout.splitlines()


# --- continuous load ------------------------------------------------------------


class CallLoad:
    """Continuous load while a test acts on thriftd: `persistent` threads
    each call add(i, 1) over and over on one connection, and `fresh`
    threads each make a new connection per call. Counts what a client would
    notice: `lost` (a call written and never answered: an error or a wrong
    reply), `refused` (a connection refused), `reconnects` (a persistent
    connection that had to be opened again). A context manager: leaving it
    stops the threads and collects their counts."""

    def __init__(self, address, persistent=8, fresh=1, timeout=10.0):
        self.address = address
        self.timeout = timeout
        self.answered = 0
        self.lost = 0
        self.refused = 0
        self.reconnects = 0
        self.errors = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._pool = ThreadPoolExecutor(persistent + fresh)
        self._runs = [self._pool.submit(self._persistent, i) for i in range(persistent)]
        self._runs += [self._pool.submit(self._fresh, i) for i in range(fresh)]

    def _count(self, answered=0, lost=0, refused=0, reconnects=0, error=None):
        with self._lock:
            self.answered += answered
            self.lost += lost
            self.refused += refused
            self.reconnects += reconnects
            if error is not None and len(self.errors) < 20:
                self.errors.append(error)

    def _connect(self, index):
        while not self._done.is_set():
            try:
                return Connection(self.address, timeout=self.timeout)
            except Exception as error:  # noqa: BLE001 -- counted, then retried
                self._count(refused=1, error=f"connect {index}: {error}")
        return None

    def _persistent(self, index):
        connection = self._connect(index)
        i = 0
        try:
            while connection is not None and not self._done.is_set():
                i += 1
                try:
                    ok = connection.client.add(i, index) == i + index
                    self._count(answered=ok, lost=not ok, error=None if ok else f"add {i} wrong")
                except Exception as error:  # noqa: BLE001 -- counted
                    self._count(lost=1, reconnects=1, error=f"client {index} call {i}: {error}")
                    connection.close()
                    connection = self._connect(index)
        finally:
            if connection is not None:
                connection.close()

    def _fresh(self, index):
        i = 0
        while not self._done.is_set():
            i += 1
            try:
                connection = Connection(self.address, timeout=self.timeout)
            except Exception as error:  # noqa: BLE001 -- counted
                self._count(refused=1, error=f"fresh {index} connect: {error}")
                continue
            try:
                ok = connection.client.add(i, 1) == i + 1
                self._count(answered=ok, lost=not ok)
            except Exception as error:  # noqa: BLE001 -- counted
                self._count(lost=1, error=f"fresh {index} call {i}: {error}")
            finally:
                connection.close()

    def wait_answered(self, more, server=None, deadline=30.0):
        """Waits until `more` calls beyond those answered now are answered."""
        target = self.answered + more
        check = server.wait if server is not None else (
            lambda p, d, m: wait_until(p, d, m))
        check(lambda: self.answered >= target, deadline,
              lambda: f"{target} calls answered (have {self.answered}; errors {self.errors})")

    def stop(self):
        self._done.set()
        for run in self._runs:
            run.result(timeout=60)
        self._pool.shutdown()

    def summary(self):
        return (f"answered {self.answered}, lost {self.lost}, refused {self.refused}, "
                f"reconnects {self.reconnects}; errors {self.errors}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def become_subreaper(on=True):
    """Makes this process the reaper of orphans in its subtree
    (PR_SET_CHILD_SUBREAPER), so that a process whose parent exits (the new
    master of a binary upgrade, once the old one is gone) is this test's to
    reap, not init's; on=False undoes it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Adopted:
    """A process this test did not start but must stop and reap: the new
    master of a binary upgrade, adopted once its parent (the old master)
    exits (see become_subreaper)."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def running(self):
        if self.returncode is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return _is_live(self.pid)  # not ours (yet): its parent lives
        if pid == 0:
            return True
        self.returncode = os.waitstatus_to_exitcode(status)
        return False

    def signal(self, sig):
        if isinstance(sig, str):
            sig = getattr(signal_module, sig if sig.startswith("SIG") else "SIG" + sig)
        os.kill(self.pid, sig)

    def wait_exit(self, deadline=10.0):
        """Waits for it to exit; returns its exit code, or None when its
        parent (still alive) reaped it."""
        wait_until(lambda: not self.running(), deadline, f"pid {self.pid} to exit")
        return self.returncode

    def stop(self, graceful=10.0):
        """TERM, then KILL after `graceful` seconds; reaped either way."""
        if not self.running():
            return
        with contextlib.suppress(ProcessLookupError):
            self.signal("TERM")
        try:
            self.wait_exit(graceful)
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                self.signal("KILL")
            self.wait_exit(5.0)
