"""Signals that reach workers without going through the master (issue 11):
an operator's TERM to one worker is a graceful stop of that worker that
loses nothing; a stop signal to the whole process group (Ctrl-C, systemd's
KillMode=control-group, timeout(1)) stops thriftd without "replacing" the
workers it reached first; a SIGSTOPped worker is killed within a second of
the timeout; and the timeout counts from the start of the call that blocks."""

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
from harness import BLOCKER_SO, PINGPONG_SO, CallLoad, py_client, wait_until

# Sync workers hold one connection each: one worker more than the persistent clients.
SHAPE = {"sync": dict(workers=3, persistent=2), "thread": dict(workers=2, persistent=8),
         "fiber": dict(workers=2, persistent=8)}


def test_a_worker_term_hands_its_connections_over_and_loses_nothing(thriftd, port, kind,
                                                                    kind_args):
    shape = SHAPE[kind]
    server = thriftd(PINGPONG_SO, "-w", shape["workers"], "-b", f"127.0.0.1:{port}", *kind_args)
    workers = server.wait_ready(port, workers=shape["workers"])
    with CallLoad(port, persistent=shape["persistent"], fresh=1) as load:
        load.wait_answered(100, server)
        for round_number in range(4):
            victim = workers[round_number % len(workers)]
            mark = server.log_mark()
            os.kill(victim, signal.SIGTERM)
            server.wait_for_log(rf"Worker \(pid:{victim}\) got SIGTERM from pid {os.getpid()}; "
                                r"it stops gracefully", since=mark)
            server.wait(lambda: not harness.is_live(victim), 10.0, f"worker {victim} to exit")
            match = server.wait_for_log(r"Booting worker with pid: (\d+)", since=mark)
            successor = int(match.group(1))
            server.wait_for_log(rf"Worker \(pid:{successor}\) is ready", since=mark)
            workers = [successor if p == victim else p for p in workers]
            load.wait_answered(50, server)
    print(f"worker TERM x4, {kind}: {load.summary()}")
    assert (load.lost, load.refused, load.reconnects) == (0, 0, 0), load.summary()
    assert "exited with code 0; replacing it" not in server.log()


def test_a_stop_signal_to_the_process_group_stops_thriftd_without_replacing_anyone(
        thriftd, port, kind_args):
    """Ctrl-C in a terminal, systemd's default KillMode, timeout(1): every
    process of the group gets the signal. Under load, where the race showed
    in 19 runs of 20, a few times over."""
    for _ in range(3):
        server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}", *kind_args)
        server.wait_ready(port, workers=2)
        with CallLoad(port, persistent=2, fresh=1) as load:
            load.wait_answered(50, server)
            mark = server.log_mark()
            os.killpg(server.pid, signal.SIGTERM)  # the harness starts it in its own session
            assert server.wait_exit(20) == 0
        log = server.log()[mark:]
        assert "replacing it" not in log, log
        assert "Booting worker" not in log, log


def test_a_stopped_worker_is_killed_within_a_second_of_the_timeout(thriftd, port):
    timeout = 2
    server = thriftd(PINGPONG_SO, "-w", "1", "-t", timeout, "-b", f"127.0.0.1:{port}")
    (worker,) = server.wait_ready(port)
    stopped = time.monotonic()
    os.kill(worker, signal.SIGSTOP)
    server.wait_for_log(rf"Worker \(pid:{worker}\) was sent SIGKILL", deadline=timeout + 5)
    elapsed = time.monotonic() - stopped
    # Its last heartbeat came at most a tick before the stop; SIGABRT at the
    # timeout cannot run, and SIGKILL follows half a second later.
    assert elapsed < timeout + 1.5, f"killed {elapsed:.2f} s after SIGSTOP"
    server.wait_ready(port)


def test_the_timeout_counts_from_the_start_of_the_blocking_call(thriftd, port):
    """A call used to be killed `timeout` after the worker's last heartbeat,
    which may come up to half a second before the call (an idle sync
    worker's): so up to that much early. The exact rule is
    posix_process_ops_test's; here the worker's own report of how long the
    call ran, end to end."""
    timeout = 2
    server = thriftd(BLOCKER_SO, "-w", "1", "-k", "sync", "-t", timeout,
                     "-b", f"127.0.0.1:{port}")
    (worker,) = server.wait_ready(port, service="blocker")
    with ThreadPoolExecutor(1) as pool:
        call, connection = harness.start_call(pool, port, "block", 10000, service="blocker",
                                              timeout=20)
        harness.wait_call_read(server, port, connection)
        report = server.wait_for_log(
            rf"\[{worker}\] \[CRITICAL\] WORKER TIMEOUT: stuck in Blocker\.block for "
            r"(\d+\.\d) s", deadline=timeout + 5)
        with pytest.raises(Exception):
            call.result(timeout=10)
    # The worker's own measure of the call, from its start to the SIGABRT:
    # not before the timeout, and not much after (a tick, the abort grace).
    assert timeout <= float(report.group(1)) < timeout + 1.5, report.group(0)


@pytest.mark.parametrize("kind", ["thread", "fiber"])
def test_a_ttin_ttou_storm_under_load_changes_the_count_once_per_signal(thriftd, port, kind):
    """Every TTIN and TTOU the master receives changes the worker count
    once, however busy it is. 0.1 s apart: two of the same kind are 0.2 s
    apart, so the kernel (which keeps one pending instance of a signal) has
    no cause to merge them."""
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}",
                     *harness.kind_args(kind))
    server.wait_ready(port, workers=2)
    sent = []
    with CallLoad(port, persistent=8, fresh=1) as load:
        load.wait_answered(100, server)
        mark = server.log_mark()
        handled = lambda: re.findall(r"Handling signal: (ttin|ttou); workers: (\d+)",  # noqa: E731
                                     server.log()[mark:])
        for i in range(30):
            name = "TTIN" if i % 3 != 2 else "TTOU"  # two up, one down: ends at 2 + 10
            server.signal(name)
            sent.append(name)
            time.sleep(0.1)  # the storm's own pace, not a wait for anything
            # Two of a kind pending at once are one to the kernel: a master
            # off the CPU for longer than the pace would see fewer. The storm
            # goes no faster than the master takes it.
            server.wait(lambda: len(handled()) >= len(sent), 10.0,
                        lambda: f"{len(sent)} signals handled (have {len(handled())})")
        server.wait(lambda: len(handled()) >= len(sent), 10.0,
                    lambda: f"{len(sent)} signals handled (have {len(handled())})")
        # Each once. Not necessarily in the order sent: two pending at once
        # (the master not scheduled for 0.1 s) are delivered lowest number
        # first, TTIN (21) before TTOU (22); the count ends the same.
        names = [name for name, _ in handled()]
        assert (names.count("ttin"), names.count("ttou")) == (sent.count("TTIN"),
                                                              sent.count("TTOU"))
        assert int(handled()[-1][1]) == 12
        server.wait_workers(12, deadline=30.0)
        load.wait_answered(100, server)
    assert (load.lost, load.refused, load.reconnects) == (0, 0, 0), load.summary()
