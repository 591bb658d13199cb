"""Signals to the master: TTIN / TTOU scaling, a killed worker replaced, TERM
graceful stop (in-flight calls finish, idle connections close at once,
graceful_timeout enforced), INT / QUIT quick stop, and HUP reloads; each under
every worker kind (the `kind` fixture of conftest.py)."""

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
from harness import PINGPONG_SO, cpp_client, failing_app, py_client, wait_until

# A sleep(ms) call in the buffered binary protocol: 4 (version) + 4 + 5
# (name) + 4 (seqid) + 7 (i32 field header and value) + 1 (stop) bytes.
SLEEP_CALL_BYTES = 25


def _serving(port):
    assert cpp_client(port, "buffered", "binary", "ping") == ["pong"]
    with py_client(port) as client:
        assert client.add(20, 22) == 42


def _start_in_flight(pool, server, port, method, *args, timeout=30.0):
    """Sends method(*args) on a fresh Python connection, waits until a worker
    has read it (it is being served), and returns the future of its reply."""
    call, connection = harness.start_call(pool, port, method, *args, timeout=timeout)
    harness.wait_call_read(server, port, connection)
    return call


# --- TTIN / TTOU / a killed worker -------------------------------------------------


def test_ttin_adds_one_worker_with_a_new_pid(thriftd, port, kind_args):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args)
    before = server.wait_ready(port)
    server.signal("TTIN")
    after = server.wait_workers(2)
    assert set(before) < set(after)
    server.signal("TTIN")
    assert len(set(server.wait_workers(3)) - set(after)) == 1
    server.wait_for_log(r"Handling signal: ttin; workers: 3")
    _serving(port)


def test_ttou_removes_one_worker_but_never_the_last(thriftd, port, kind_args):
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}", *kind_args)
    before = server.wait_ready(port, workers=2)
    server.signal("TTOU")
    (survivor,) = server.wait_workers(1)
    assert survivor in before
    wait_until(lambda: not [p for p in before if p != survivor and harness.is_live(p)], 10.0,
               "the retired worker to exit")
    mark = server.log_mark()
    server.signal("TTOU")  # at 1 worker: stays at 1
    server.wait_for_log(r"Handling signal: ttou; workers: 1", since=mark)
    assert server.worker_pids() == [survivor]
    _serving(port)
    # Had the count gone to 0, one TTIN would bring back only 1 worker.
    server.signal("TTIN")
    assert survivor in server.wait_workers(2)
    assert server.worker_pids() and server.running()


def test_a_worker_killed_by_sigkill_is_replaced_and_service_continues(thriftd, port,
                                                                      kind_args):
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}", *kind_args)
    before = server.wait_ready(port, workers=2)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    after = wait_until(
        lambda: (lambda pids: pids if len(pids) == 2 and victim not in pids else None)(
            server.worker_pids()), 10.0, lambda: f"a replacement worker; stderr:\n{server.log()}")
    assert before[1] in after
    server.wait_for_log(rf"Worker \(pid:{victim}\) was sent SIGKILL; replacing it")
    for _ in range(4):  # several connections, so both workers serve
        _serving(port)


# --- TERM ---------------------------------------------------------------------------


def test_term_lets_an_in_flight_call_finish_and_exits_0(thriftd, port, kind_args):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args)
    server.wait_ready(port)
    with ThreadPoolExecutor(1) as pool:
        call = _start_in_flight(pool, server, port, "sleep", 800)
        start = time.monotonic()
        server.signal("TERM")
        assert call.result(timeout=10) is None  # sleep() replied, no exception
        assert server.wait_exit(deadline=10) == 0
    assert time.monotonic() - start < 5.0
    assert "did not stop in time" not in server.log()
    server.wait_for_log(r"Handling signal: term")


def test_term_with_the_cpp_client_in_flight_completes_its_call(thriftd, port, kind_args):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args)
    server.wait_ready(port)
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(harness.run_cpp_client, port, "buffered", "binary", "sleep", 800)
        # Its port is unknown: wait for a connection whose whole call arrived
        # and was read by a worker.
        server.wait(lambda: any(
            received >= SLEEP_CALL_BYTES and harness.call_was_read(port, client)
            for client, received in harness.bytes_received_per_client(port).items()),
            10.0, "the C++ client's sleep(800) to be read by the worker")
        server.signal("TERM")
        result = call.result(timeout=15)
    assert (result.returncode, result.stdout.strip()) == (0, "slept 800"), result.stderr
    assert server.wait_exit(deadline=10) == 0


def test_term_closes_an_idle_connection_at_once(thriftd, port, kind_args):
    # graceful_timeout 30 (the default): an idle connection must not hold the stop.
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args)
    server.wait_ready(port)
    with py_client(port) as client:
        assert client.ping() == "pong"  # the worker has accepted this connection
        start = time.monotonic()
        server.signal("TERM")
        assert server.wait_exit(deadline=5) == 0
        took = time.monotonic() - start
        with pytest.raises(Exception):
            client.ping()
    assert took < 3.0, f"TERM with an idle connection took {took:.2f}s"
    assert "did not stop in time" not in server.log()


def test_graceful_timeout_kills_a_worker_whose_call_runs_too_long(thriftd, port, kind_args):
    server = thriftd(PINGPONG_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args,
                     "--graceful-timeout", "1")
    workers = server.wait_ready(port)
    with ThreadPoolExecutor(1) as pool:
        call = _start_in_flight(pool, server, port, "sleep", 5000)
        start = time.monotonic()
        server.signal("TERM")
        assert server.wait_exit(deadline=4) == 0
        took = time.monotonic() - start
        with pytest.raises(Exception):
            call.result(timeout=10)  # the worker died under it
    assert 0.8 <= took <= 3.5, f"master exited {took:.2f}s after TERM"
    server.wait_for_log(rf"Worker \(pid:{workers[0]}\) did not stop in time; killing it")
    assert not harness.is_live(workers[0])


# --- INT / QUIT ---------------------------------------------------------------------


@pytest.mark.parametrize("signame", ["INT", "QUIT"])
def test_quick_stop_exits_0_at_once_even_with_a_call_in_flight(thriftd, port, kind_args,
                                                               signame):
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}", *kind_args)
    workers = server.wait_ready(port, workers=2)
    with ThreadPoolExecutor(1) as pool:
        call = _start_in_flight(pool, server, port, "sleep", 5000)
        start = time.monotonic()
        server.signal(signame)
        assert server.wait_exit(deadline=3) == 0
        took = time.monotonic() - start
        with pytest.raises(Exception):
            call.result(timeout=10)
    assert took < 2.5, f"{signame} took {took:.2f}s"
    assert not [p for p in workers if harness.is_live(p)]


def _exit_log_lines(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("signame", ["TERM", "INT", "QUIT"])
def test_every_stop_runs_the_apps_worker_exit_hook(thriftd, tmp_path, port, kind_args, signame):
    exit_log = tmp_path / "exits.log"
    server = thriftd(harness.BLOCKER_SO, "-w", "2", "-b", f"127.0.0.1:{port}", *kind_args,
                     "--app-config", f"exit_log={exit_log}")
    workers = server.wait_ready(port, workers=2, service="blocker")
    server.signal(signame)
    assert server.wait_exit(deadline=5) == 0
    assert sorted(_exit_log_lines(exit_log)) == sorted(f"exit {pid}" for pid in workers)


def test_a_quick_stop_ends_a_worker_whose_handler_never_returns(thriftd, tmp_path, port,
                                                               kind_args):
    # The handler blocks its thread (under fiber, the whole loop) for a minute:
    # OnWorkerExit may not get to run, but the worker still ends within about
    # a second of the quick stop, before the master's own SIGKILL (2 s).
    server = thriftd(harness.BLOCKER_SO, "-w", "1", "-b", f"127.0.0.1:{port}", *kind_args)
    (worker,) = server.wait_ready(port, service="blocker")
    with ThreadPoolExecutor(1) as pool:
        call, connection = harness.start_call(pool, port, "block", 60000, service="blocker",
                                              timeout=30.0)
        harness.wait_call_read(server, port, connection)
        server.signal("INT")
        assert server.wait_exit(deadline=5) == 0
        with pytest.raises(Exception):
            call.result(timeout=10)
    assert not harness.is_live(worker)
    # The master logs it when it has to kill a worker; its log, not a clock
    # on a loaded machine, says whether the worker ended by itself.
    if not harness.SANITIZED:
        assert "did not stop in time" not in server.log()
        assert f"Worker (pid:{worker}) was sent SIGKILL" not in server.log()


# --- HUP ----------------------------------------------------------------------------


@pytest.fixture
def write_config(kind):
    """write_config(path, port, app=, workers=, extra=): a config file for `kind`."""
    def write(path, port, app=PINGPONG_SO, workers=2, extra=""):
        path.write_text(f"app: {app}\nbind: 127.0.0.1:{port}\nworkers: {workers}\n"
                        f"{harness.kind_yaml(kind)}{extra}")
    return write


def test_hup_with_a_changed_worker_count_replaces_every_worker(thriftd, tmp_path, port,
                                                               write_config):
    config = tmp_path / "thriftd.yaml"
    write_config(config, port, workers=2)
    server = thriftd("-c", config)
    old = server.wait_ready(port, workers=2)
    write_config(config, port, workers=3)
    server.signal("HUP")
    new = wait_until(
        lambda: (lambda pids: pids if len(pids) == 3 and not set(pids) & set(old) else None)(
            server.worker_pids()), 10.0,
        lambda: f"3 new workers (have {server.worker_pids()}, old {old}); "
                f"stderr:\n{server.log()}")
    assert not set(new) & set(old)
    wait_until(lambda: not [p for p in old if harness.is_live(p)], 10.0, "old workers to exit")
    server.wait_for_log(r"Generation 2 is serving")
    _serving(port)
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_hup_keeps_calls_answered_while_it_reloads(thriftd, tmp_path, port, write_config):
    config = tmp_path / "thriftd.yaml"
    write_config(config, port, workers=1)
    server = thriftd("-c", config)
    old = server.wait_ready(port)
    with ThreadPoolExecutor(1) as pool:
        call = _start_in_flight(pool, server, port, "sleep", 800)
        server.signal("HUP")
        assert call.result(timeout=10) is None  # the old worker finished it
    server.wait_for_log(r"Generation 2 is serving")
    wait_until(lambda: not harness.is_live(old[0]), 10.0, "the old worker to exit")
    _serving(port)


def test_hup_with_an_invalid_config_is_logged_and_the_old_workers_kept(thriftd, tmp_path, port,
                                                                       write_config):
    config = tmp_path / "thriftd.yaml"
    write_config(config, port, workers=2)
    server = thriftd("-c", config)
    old = server.wait_ready(port, workers=2)
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: abc\n")
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(
        r"\[ERROR\] Reload failed, keeping the running configuration: "
        rf"{config}:3: workers: expected a positive integer, got \"abc\"$", since=mark)
    assert server.worker_pids() == old
    _serving(port)
    # The running configuration stays in force: a later valid reload works.
    write_config(config, port, workers=1)
    server.signal("HUP")
    wait_until(lambda: (lambda pids: len(pids) == 1 and pids[0] not in old)(server.worker_pids()),
               10.0, lambda: f"1 new worker; stderr:\n{server.log()}")
    _serving(port)


def test_hup_with_an_access_log_that_cannot_be_written_keeps_the_old_workers(
        thriftd, tmp_path, port, write_config):
    config = tmp_path / "thriftd.yaml"
    write_config(config, port, workers=1)
    server = thriftd("-c", config)
    old = server.wait_ready(port)
    write_config(config, port, workers=1, extra=f"accesslog: {tmp_path}/missing/access.log\n")
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(r"\[ERROR\] Reload failed, keeping the running configuration: "
                        rf"{config}:\d+: accesslog: .*missing.*No such file or directory$",
                        since=mark)
    assert server.worker_pids() == old
    _serving(port)


@pytest.mark.parametrize("new_app, new_workers, error", [
    ("missing", 1, r"cannot load app {path}: No such file or directory"),
    ("missing", 2, r"cannot load app {path}: No such file or directory"),
    ("start_throws_app", 2, r"App StartThrowsApp failed to start in worker: "
                            r"start_throws_app: cannot reach the database"),
], ids=["app-missing-1-new-worker", "app-missing-2-new-workers",
        "app-start-throws-2-new-workers"])
def test_hup_whose_new_app_fails_to_start_keeps_the_old_generation(
        thriftd, tmp_path, port, write_config, new_app, new_workers, error):
    config = tmp_path / "thriftd.yaml"
    write_config(config, port, workers=2)
    server = thriftd("-c", config)
    old = server.wait_ready(port, workers=2)
    path = tmp_path / "missing.so" if new_app == "missing" else failing_app(new_app)
    # Several failed reloads in a row: each must leave the old generation serving.
    for attempt in range(6):
        write_config(config, port, app=path, workers=new_workers)
        mark = server.log_mark()
        server.signal("HUP")
        # Named by the config file that named the App.
        server.wait_for_log(rf"\[ERROR\] {re.escape(str(config))}:\d+: app: " +
                            error.format(path=path), since=mark)
        server.wait_for_log(r"Reload failed; keeping generation 1", since=mark)
        # Every worker of the failed generation goes; the old ones stay and serve.
        failed = [int(pid) for pid in
                  re.findall(r"Booting worker with pid: (\d+)", server.log()[mark:])]
        assert len(failed) == new_workers, server.log()
        server.wait(lambda: server.worker_pids() == old and
                    not [p for p in failed if harness.is_live(p)], 10.0,
                    f"only the old workers {old} (the failed ones {failed} gone)")
        assert "Shutting down" not in server.log(), server.log()
        assert "signal: term" not in server.log(), server.log()
        _serving(port)
    # A good config afterwards reloads normally.
    write_config(config, port, workers=1)
    server.signal("HUP")
    server.wait(lambda: (lambda pids: len(pids) == 1 and pids[0] not in old)(
        server.worker_pids()), 10.0, "1 new worker after a good reload")
    _serving(port)
    server.signal("TERM")
    assert server.wait_exit() == 0
