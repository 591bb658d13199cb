"""A custom worker kind end to end: examples/custom_worker/ builds
libcustom_worker.so (OneAtATimeWorker, written against include/thriftd/worker.h
only), which `-k PATH.so[:NAME]` loads. It serves both clients, spreads
connections (one per worker), stops cleanly on TERM, keeps running when its file
is overwritten in place, and a kind that cannot be loaded stops thriftd before
anything starts, with one clear line and exit 1."""

import os
import re
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
from harness import (CUSTOM_WORKER_SO, KEYVALUE_SO, PINGPONG_SO, CallLoad, cpp_client,
                     py_client, run_thriftd)

EXIT_APP_ERROR = 1
ONE_MIB = 1 << 20


@pytest.mark.parametrize("kind_spec",
                         [str(CUSTOM_WORKER_SO), f"{CUSTOM_WORKER_SO}:OneAtATimeWorker"],
                         ids=["default-entry", "named-entry"])
def test_custom_kind_serves_both_clients(thriftd, port, kind_spec):
    server = thriftd(PINGPONG_SO, "-w", "2", "-k", kind_spec, "-b", f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=2)
    assert f"Using worker: {kind_spec}" in server.log()
    payload = bytes(i % 251 for i in range(ONE_MIB))
    with py_client(port, timeout=30.0) as client:
        assert client.ping() == "pong"
        assert client.add(40, 2) == 42
        assert client.echo(payload) == payload
    assert cpp_client(port, "buffered", "binary", "ping", "echo", ONE_MIB, "sleep", 10) == [
        "pong", f"echo {ONE_MIB} ok", "slept 10"]
    assert server.worker_pids() == workers


def test_custom_kind_serves_another_transport_and_protocol(thriftd, port):
    server = thriftd(PINGPONG_SO, "-k", CUSTOM_WORKER_SO, "-b", f"127.0.0.1:{port}",
                     "--thrift-transport-factory", "framed", "--thrift-protocol-factory",
                     "compact")
    server.wait_ready(port, transport="framed", protocol="compact")
    assert cpp_client(port, "framed", "compact", "ping", "add", 2, 3) == ["pong", "5"]


def test_custom_kind_asks_should_accept_so_each_worker_holds_one_connection(thriftd, port):
    # OneAtATimeWorker declares worker_connections = 1: with two workers, two
    # persistent connections must land on different workers (were both on
    # one, the second would wait behind the first forever).
    server = thriftd(PINGPONG_SO, "-w", "2", "-k", CUSTOM_WORKER_SO, "-b", f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=2)
    with harness.Connection(port) as first, harness.Connection(port, timeout=5.0) as second:
        for _ in range(3):
            assert first.client.ping() == "pong"
            assert second.client.ping() == "pong"
        assert sorted(harness.connections_per_worker(workers, port).values()) == [1, 1]


def test_term_stops_the_custom_kind_letting_the_call_in_flight_finish(thriftd, port):
    server = thriftd(PINGPONG_SO, "-w", "2", "-k", CUSTOM_WORKER_SO, "-b", f"127.0.0.1:{port}")
    server.wait_ready(port, workers=2)
    with ThreadPoolExecutor(1) as pool, harness.Connection(port) as idle:
        assert idle.client.ping() == "pong"  # one worker holds it, idle
        call, connection = harness.start_call(pool, port, "sleep", 800)
        harness.wait_call_read(server, port, connection)  # the other one serves it
        term = time.monotonic()
        server.signal("TERM")
        idle.socket.settimeout(5.0)
        assert idle.socket.recv(1) == b""  # closed at once: the waiter answered kStop
        closed_after = time.monotonic() - term
        assert call.result(timeout=10) is None
    assert closed_after < 0.4, f"the idle connection was closed {closed_after:.3f}s after TERM"
    assert server.wait_exit(deadline=10) == 0
    log = server.log()
    assert "did not stop in time" not in log, log
    assert len(re.findall(r"Worker \(pid:\d+\) exited with code 0", log)) == 2, log


@pytest.mark.parametrize("persistent", [False, True], ids=["new-connection-per-call",
                                                          "persistent-connections"])
def test_custom_kind_recycled_by_max_requests_loses_no_call(thriftd, port, persistent):
    # Persistent connections: the retiring worker hands its idle connection
    # over (HandOver) and the successor takes it (AdoptConnection).
    server = thriftd(PINGPONG_SO, "-w", "2", "-k", CUSTOM_WORKER_SO, "--max-requests", "50",
                     "--max-requests-jitter", "10", "-b", f"127.0.0.1:{port}")
    server.wait_ready(port, workers=2)
    harness.call_through_recycles(server, port, clients=2, persistent=persistent)


def test_custom_kind_hands_an_idle_connection_over_at_ttou(thriftd, port):
    server = thriftd(PINGPONG_SO, "-w", "1", "-k", CUSTOM_WORKER_SO, "-b", f"127.0.0.1:{port}")
    (oldest,) = server.wait_ready(port)
    with harness.Connection(port) as kept:
        assert kept.client.ping() == "pong"  # the oldest worker holds it
        server.signal("TTIN")
        (newest,) = set(server.wait_workers(2)) - {oldest}
        # The new worker is ready once it answers: the oldest one is busy
        # with `kept` (one connection at a time).
        server.wait(lambda: _answers(port), 10.0, "the new worker to serve")
        server.signal("TTOU")  # the oldest goes; `kept` must not notice
        server.wait(lambda: not harness.is_live(oldest), 10.0, "the oldest worker to exit")
        assert kept.client.add(2, 2) == 4
        assert harness.connections_per_worker([newest], port) == {newest: 1}


def _answers(port):
    try:
        harness.probe(port, timeout=0.5)
        return True
    except Exception:  # noqa: BLE001 -- not yet
        return False


def test_custom_kind_honours_the_client_timeout(thriftd, port):
    server = thriftd(PINGPONG_SO, "-k", CUSTOM_WORKER_SO, "-b", f"127.0.0.1:{port}",
                     "--thrift-client-timeout", "0.5")
    server.wait_ready(port)
    with harness.Connection(port) as connection:
        assert connection.client.ping() == "pong"
        start = time.monotonic()
        connection.socket.settimeout(5.0)
        assert connection.socket.recv(1) == b""  # Serve() got kTimeout from the waiter
        took = time.monotonic() - start
    assert 0.4 <= took <= 2.0, f"idle connection closed after {took:.2f}s, expected ~0.5s"


def test_a_custom_kind_overwritten_in_place_keeps_running_and_the_next_fork_loads_it_again(
        thriftd, tmp_path, port):
    # The master loads the kind and its workers inherit it: both run it from
    # the master's private copy, not from the file `cp` rewrites.
    kind = tmp_path / "kind.so"
    shutil.copyfile(CUSTOM_WORKER_SO, kind)
    server = thriftd(PINGPONG_SO, "-w", "2", "-k", kind, "-b", f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=2)
    inode = kind.stat().st_ino
    # One connection per worker (worker_connections = 1): one persistent, and
    # one per call on the other worker.
    with CallLoad(port, persistent=1, fresh=1) as load:
        load.wait_answered(50, server)
        with open(kind, "wb") as file:  # as `cp` does: the same inode, rewritten
            file.write(KEYVALUE_SO.read_bytes())
        load.wait_answered(300, server)
    assert kind.stat().st_ino == inode
    assert (load.lost, load.refused) == (0, 0), load.summary()
    assert server.worker_pids() == workers, server.log()
    assert "was sent SIG" not in server.log(), server.log()

    # The kind put back the same way; a replacement worker is created from it.
    with open(kind, "wb") as file:
        file.write(CUSTOM_WORKER_SO.read_bytes())
    os.kill(workers[0], signal.SIGKILL)
    server.wait(lambda: (lambda pids: len(pids) == 2 and workers[0] not in pids)(
        server.worker_pids()), 10.0, "a replacement worker")
    server.wait(lambda: _answers(port), 10.0, "a call to answer")
    assert "cannot start a worker" not in server.log(), server.log()


# --- loading failures ----------------------------------------------------------


def _not_an_elf(tmp_path):
    path = tmp_path / "kind.so"
    path.write_text("this is a text file, not a shared object\n" * 4)
    return path


# (id, the -k value given tmp_path, the expected error after "cannot load worker kind PATH: ")
KIND_LOAD_FAILURES = [
    ("file-missing",
     lambda tmp: str(tmp / "missing_kind.so"),
     lambda path: "No such file or directory"),
    ("not-a-shared-object",
     lambda tmp: str(_not_an_elf(tmp)),
     lambda path: f"{path}: invalid ELF header"),
    ("no-thriftd-worker-in-an-app",  # the App given as the kind by mistake
     lambda tmp: str(PINGPONG_SO),
     lambda path: "no worker kind exported (symbol thriftd_worker_default missing; "
                  "use THRIFTD_WORKER)"),
    ("no-thriftd-worker-at-all",
     lambda tmp: str(harness.failing_app("no_entry_app")),
     lambda path: "no worker kind exported (symbol thriftd_worker_default missing; "
                  "use THRIFTD_WORKER)"),
    ("abi-version-mismatch",
     lambda tmp: str(harness.failing_app("abi_mismatch_worker")),
     lambda path: "built for worker kind ABI version 999, this thriftd loads version "
                  f"{harness.worker_abi_version()}"),
    ("named-class-missing",
     lambda tmp: f"{CUSTOM_WORKER_SO}:NoSuchWorker",
     lambda path: "no worker kind named NoSuchWorker (symbol thriftd_worker_NoSuchWorker "
                  "missing)"),
]


@pytest.mark.parametrize("check_config", [False, True], ids=["run", "check-config"])
@pytest.mark.parametrize("name, make_spec, expected", KIND_LOAD_FAILURES,
                         ids=[case[0] for case in KIND_LOAD_FAILURES])
def test_a_custom_kind_that_cannot_be_loaded_stops_thriftd_with_exit_1(
        tmp_path, name, make_spec, expected, check_config):
    spec = make_spec(tmp_path)
    path = spec.rsplit(":", 1)[0] if spec.endswith(":NoSuchWorker") else spec
    sock = tmp_path / "never.sock"
    result = run_thriftd(PINGPONG_SO, "-w", "2", "-k", spec, "-b", f"unix:{sock}",
                         *(["--check-config"] if check_config else []), cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR, result.stderr
    assert result.stderr.splitlines() == [
        f"thriftd: cannot load worker kind {path}: {expected(path)}"]
    assert "OK" not in result.stdout
    assert not sock.exists(), "thriftd listened before loading the worker kind"
