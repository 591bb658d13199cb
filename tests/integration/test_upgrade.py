"""Binary upgrade (USR2) and WINCH, under continuous load on persistent
connections: the new master adopts the listening sockets, the old one's
idle connections are handed over to the new master's workers when it is told
to stop, and nothing is refused, lost or reconnected. A new master that
cannot start leaves the old one serving, with one line saying why."""

import os
import re

import pytest

import harness
from harness import PINGPONG_SO, CallLoad, failing_app, py_client, wait_until

# Sync workers hold one connection each: one worker more than the persistent
# clients, for the connection-per-call client.
LOAD = {"sync": dict(workers=3, persistent=2), "thread": dict(workers=2, persistent=8),
        "fiber": dict(workers=2, persistent=8)}


def _pid_in(path):
    text = path.read_text() if path.exists() else ""
    return int(text) if text.strip() else None


def _new_master(server, pidfile):
    """Waits for the new master to say it serves; returns its pid, which
    PIDFILE.2 names."""
    match = server.wait_for_log(r"Upgrade: the new master \(pid (\d+)\) is serving")
    pid = int(match.group(1))
    assert _pid_in(pidfile.with_name(pidfile.name + ".2")) == pid
    assert _pid_in(pidfile) == server.pid  # the old master's, until it exits
    return pid


def _upgrade_log_lines(server):
    return [line for line in server.log().splitlines() if "Upgrade" in line]


def test_usr2_then_term_of_the_old_master_loses_nothing(thriftd, adopt, tmp_path, port, kind,
                                                        kind_args):
    load_shape = LOAD[kind]
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, *kind_args, "-w", load_shape["workers"], "-b",
                     f"127.0.0.1:{port}", "-p", pidfile)
    server.wait_ready(port, workers=load_shape["workers"])
    with CallLoad(port, persistent=load_shape["persistent"], fresh=1) as load:
        load.wait_answered(100, server)
        server.signal("USR2")
        new = adopt(_new_master(server, pidfile))
        load.wait_answered(100, server)
        server.signal("TERM")
        assert server.wait_exit(20) == 0
        # The new master takes the pidfile over once the old one has gone.
        wait_until(lambda: _pid_in(pidfile) == new.pid, 10.0, "the pidfile to name the new master")
        assert not pidfile.with_name(pidfile.name + ".2").exists()
        # Every persistent connection, now on the new master's workers, answers.
        load.wait_answered(300)
    print(f"USR2 + TERM, {kind}: {load.summary()}")
    assert (load.lost, load.refused, load.reconnects) == (0, 0, 0), load.summary()
    assert new.running()
    log = server.log()
    assert re.search(rf"\[{new.pid}\] \[INFO\] The old master \(pid {server.pid}\) has exited; "
                     rf"this master \(pid {new.pid}\) takes over", log), log
    with py_client(port) as client:
        assert client.ping() == "pong"
    new.signal("TERM")
    assert new.wait_exit(20) == 0
    assert not pidfile.exists()


def test_winch_then_hup_rolls_back_and_loses_nothing(thriftd, adopt, tmp_path, port, kind,
                                                     kind_args):
    """USR2; WINCH: the old workers hand their connections to the new
    master's; HUP: the old master's workers start again; TERM of the new
    master: its connections come back to the old master's workers."""
    shape = LOAD[kind]
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, *kind_args, "-w", shape["workers"], "-b", f"127.0.0.1:{port}",
                     "-p", pidfile)
    old_workers = server.wait_ready(port, workers=shape["workers"])
    with CallLoad(port, persistent=shape["persistent"], fresh=1) as load:
        load.wait_answered(100, server)
        server.signal("USR2")
        new = adopt(_new_master(server, pidfile))
        server.signal("WINCH")
        server.wait(lambda: not [p for p in old_workers if harness.is_live(p)], 10.0,
                    "the old master's workers to exit")
        load.wait_answered(200, server)
        # The old master stays, with no worker but the new master (its child).
        assert server.running()
        assert server.worker_pids() == [new.pid]
        # Rollback: HUP starts the old master's workers again; the new one goes.
        # The new master is stopped meanwhile, so that the TERM and the old
        # master's word that it serves again reach it together: the word
        # must count, though a signal is handled first.
        mark = server.log_mark()
        new.signal("STOP")
        try:
            server.signal("HUP")
            for _ in range(shape["workers"]):
                mark = server.wait_for_log(r"Worker \(pid:\d+\) is ready", since=mark).end()
            server.wait_for_log(rf"Told the new master \(pid {new.pid}\) that this master serves",
                                since=mark)
            new.signal("TERM")
        finally:
            new.signal("CONT")
        # (Its log is the same file.)
        server.wait_for_log(rf"\[{new.pid}\] \[INFO\] The old master \(pid {server.pid}\) "
                            r"serves again: a stop of this master hands its connections to it",
                            since=mark)
        new.wait_exit(20)  # the old master reaps it, and logs how it went:
        server.wait_for_log(rf"The new master \(pid {new.pid}\) exited with code 0; this master "
                            rf"\(pid {server.pid}\) is the master again")
        load.wait_answered(200, server)
    print(f"USR2 + WINCH + HUP + TERM of the new master, {kind}: {load.summary()}")
    assert (load.lost, load.refused, load.reconnects) == (0, 0, 0), load.summary()
    assert _pid_in(pidfile) == server.pid
    with py_client(port) as client:
        assert client.ping() == "pong"


def test_usr2_with_a_broken_new_config_keeps_the_old_master_serving(thriftd, adopt, tmp_path,
                                                                   port):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 1\n")
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd("-c", config, "-p", pidfile)
    server.wait_ready(port)
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: many\n")
    server.signal("USR2")
    server.wait_for_log(
        rf"\[{server.pid}\] \[ERROR\] Upgrade failed: {re.escape(str(config))}:3: workers: "
        r"expected a positive integer, got \"many\"; this master \(pid \d+\) serves on$")
    assert len([line for line in _upgrade_log_lines(server) if "failed" in line]) == 1
    assert server.worker_pids() and len(server.worker_pids()) == 1  # its worker, no new master
    assert not pidfile.with_name(pidfile.name + ".2").exists()
    assert _pid_in(pidfile) == server.pid
    with py_client(port) as client:
        assert client.ping() == "pong"
    # Fixed, the next USR2 upgrades.
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 1\n")
    server.signal("USR2")
    adopt(_new_master(server, pidfile))  # stopped and reaped at teardown


def test_usr2_whose_new_app_fails_to_boot_keeps_the_old_master_serving(thriftd, tmp_path, port):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 1\n")
    server = thriftd("-c", config)
    server.wait_ready(port)
    config.write_text(f"app: {failing_app('start_throws_app')}\nbind: 127.0.0.1:{port}\n"
                      "workers: 1\n")
    server.signal("USR2")
    server.wait_for_log(rf"\[{server.pid}\] \[ERROR\] Upgrade failed: the new master's workers "
                        r"failed to boot: .*; this master \(pid \d+\) serves on$")
    server.wait(lambda: len(server.worker_pids()) == 1, 10.0, "the new master to be gone")
    with py_client(port) as client:
        assert client.ping() == "pong"


def test_usr2_with_the_binary_gone_keeps_the_old_master_serving(thriftd, tmp_path, port):
    # Started by a path that is gone by the upgrade: a package manager that
    # failed half-way, say.
    binary = tmp_path / "bin" / "thriftd"
    binary.parent.mkdir()
    binary.symlink_to(harness.THRIFTD_BIN)
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", binary=binary)
    server.wait_ready(port)
    binary.unlink()
    server.signal("USR2")
    server.wait_for_log(rf"\[ERROR\] Upgrade failed: cannot execute the new master: {binary}: "
                        r"No such file or directory; this master \(pid \d+\) serves on$")
    with py_client(port) as client:
        assert client.ping() == "pong"


def test_usr2_runs_the_binary_now_at_the_path_it_was_started_by(thriftd, adopt, tmp_path, port):
    # A newly installed binary is picked up: the path, not the old inode.
    binary = tmp_path / "bin" / "thriftd"
    binary.parent.mkdir()
    binary.symlink_to(harness.THRIFTD_BIN)
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "-p", tmp_path / "t.pid",
                     binary=binary)
    server.wait_ready(port)
    replacement = tmp_path / "bin" / "thriftd-next"
    replacement.write_text(f"#!/bin/sh\necho upgraded-binary-ran >&2\nexec {harness.THRIFTD_BIN} "
                           "\"$@\"\n")
    replacement.chmod(0o755)
    os.replace(replacement, binary)
    server.signal("USR2")
    new = adopt(_new_master(server, tmp_path / "t.pid"))
    assert "upgraded-binary-ran" in server.log()
    assert new.running()


def test_a_second_usr2_during_an_upgrade_is_ignored(thriftd, adopt, tmp_path, port):
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "-p", pidfile)
    server.wait_ready(port)
    server.signal("USR2")
    new = adopt(_new_master(server, pidfile))
    mark = server.log_mark()
    server.signal("USR2")
    server.wait_for_log(rf"\[{server.pid}\] \[WARNING\] Handling signal: usr2; ignored: an "
                        rf"upgrade is in progress \(new master pid {new.pid}\)", since=mark)
    new.signal("USR2")  # nor may the new master start another while the old one lives
    server.wait_for_log(rf"\[{new.pid}\] \[WARNING\] Handling signal: usr2; ignored: this master "
                        rf"is itself an upgrade in progress; stop the old master "
                        rf"\(pid {server.pid}\) first", since=mark)
    assert sorted(p for p in server.worker_pids() if p != new.pid)  # one worker, one new master
    assert len(server.worker_pids()) == 2


def _ready_on_a_unix_path(thriftd, tmp_path):
    """thriftd serving on a unix socket, with a pidfile: (server, path, pidfile)."""
    path = tmp_path / "thriftd.sock"
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, "-b", f"unix:{path}", "-p", pidfile)
    server.wait_ready(unix=str(path))
    return server, path, pidfile


def test_a_unix_socket_survives_the_upgrade_and_goes_with_the_last_master(thriftd, adopt,
                                                                          tmp_path):
    server, path, pidfile = _ready_on_a_unix_path(thriftd, tmp_path)
    server.signal("USR2")
    new = adopt(_new_master(server, pidfile))
    server.signal("TERM")
    assert server.wait_exit(20) == 0
    assert path.exists()  # the old master leaves it to the new one
    with py_client(str(path)) as client:
        assert client.ping() == "pong"
    new.signal("TERM")
    assert new.wait_exit(20) == 0
    assert not path.exists()


def test_a_master_that_took_over_still_removes_its_unix_path_after_a_rollback(thriftd, adopt,
                                                                              tmp_path):
    """Regression: a master that took a unix socket over from an older one,
    then saw its own upgrade rolled back, never removed the path."""
    first, path, pidfile = _ready_on_a_unix_path(thriftd, tmp_path)
    first.signal("USR2")
    second = adopt(_new_master(first, pidfile))
    first.signal("TERM")
    assert first.wait_exit(20) == 0
    wait_until(lambda: _pid_in(pidfile) == second.pid, 10.0, "the second master to take over")
    mark = first.log_mark()  # one log: every master writes to the first one's stderr
    second.signal("USR2")
    match = first.wait_for_log(r"Upgrade: the new master \(pid (\d+)\) is serving", since=mark)
    third = adopt(int(match.group(1)))
    third.signal("TERM")  # the rollback
    first.wait_for_log(rf"The new master \(pid {third.pid}\) exited with code 0", since=mark)
    with py_client(str(path)) as client:
        assert client.ping() == "pong"
    second.signal("TERM")
    assert second.wait_exit(20) == 0
    assert not path.exists()


def test_usr2_with_a_metrics_endpoint_passes_its_socket_on(thriftd, adopt, tmp_path, port):
    """Regression: the new master bound the metrics port again, which the
    old one still held, and failed: with metrics_bind set, no binary upgrade
    ever worked. The socket passes like the listeners'; the old master's
    log said only "exited with code 2" before, and now says why."""
    from test_observability import http_get
    metrics_port = harness.free_port()
    while metrics_port == port:  # free a moment ago, both: they may be one
        metrics_port = harness.free_port()
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "-p", pidfile,
                     "--metrics-bind", f"127.0.0.1:{metrics_port}")
    server.wait_ready(port)
    server.signal("USR2")
    new = adopt(_new_master(server, pidfile))
    server.signal("TERM")
    assert server.wait_exit(20) == 0
    assert re.search(rf"\[{new.pid}\] \[INFO\] Serving metrics at: http://127\.0\.0\.1:"
                     rf"{metrics_port}/metrics", server.log()), server.log()
    status, body = http_get(metrics_port, "/healthz")
    assert status == 200 and '"status": "ok"' in body, body

