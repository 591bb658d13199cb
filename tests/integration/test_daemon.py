"""daemon (-D), gunicorn's: thriftd detaches once everything a start can fail
on at the terminal has passed, the daemon writes the pidfile, and the
terminal process exits 0 (or prints the daemon's one-line failure and
exits non-zero). Refused under systemd and as PID 1."""

import contextlib
import shutil
import subprocess
import os
import signal

import pytest

from harness import (PINGPONG_SO, THRIFTD_BIN, failing_app, is_live, probe, run_thriftd,
                     wait_until)


def _stop_daemon(pidfile):
    """Kills whatever the daemon left: its session (the master and workers)."""
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pidfile.read_text())
        os.killpg(os.getpgid(pid), signal.SIGKILL)
        wait_until(lambda: not is_live(pid), 10.0, "the daemon to go")


def test_a_daemon_writes_its_pidfile_serves_and_stops_on_term(tmp_path, port):
    pidfile = tmp_path / "thriftd.pid"
    error_log = tmp_path / "error.log"
    try:
        result = run_thriftd("-D", "-p", pidfile, "--error-logfile", error_log, "-b",
                             f"127.0.0.1:{port}", PINGPONG_SO, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        # Written by the daemon before the terminal process exited.
        pid = int(pidfile.read_text())
        assert pid != os.getpid()
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ppid, session = int(fields[1]), int(fields[3])
        assert ppid != os.getpid()  # not the test's child: reparented
        assert session != os.getsid(0) and session != pid  # its own session, not its leader
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
        assert os.readlink(f"/proc/{pid}/cwd") == str(tmp_path)  # kept, as gunicorn keeps it
        # "Started" means serving: the workers answer as soon as the terminal returns.
        probe(port)
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not is_live(pid), 15.0, "the daemon to stop")
        assert not pidfile.exists()
        assert "Shutting down: Master" in error_log.read_text()
    finally:
        _stop_daemon(pidfile)


def test_a_failure_before_detaching_is_one_line_at_the_terminal(tmp_path, port):
    pidfile = tmp_path / "missing" / "thriftd.pid"
    result = run_thriftd("-D", "-p", pidfile, "--error-logfile", tmp_path / "e.log", "-b",
                         f"127.0.0.1:{port}", PINGPONG_SO, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"thriftd: command line: --pid: cannot write {pidfile}: "
                             f"{pidfile.parent}: No such file or directory\n")
    # A port in use fails before the fork.
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = run_thriftd("-D", "-b", f"127.0.0.1:{busy}", PINGPONG_SO, cwd=tmp_path)
    assert result.returncode == 2
    assert "Address already in use" in result.stderr


def test_workers_that_fail_to_boot_are_one_line_at_the_terminal(tmp_path, port):
    """The terminal waits for the workers, as systemd's READY=1 does: an App
    that cannot start is not a daemon reported started that is gone."""
    pidfile = tmp_path / "thriftd.pid"
    error_log = tmp_path / "error.log"
    try:
        result = run_thriftd("-D", "-p", pidfile, "--error-logfile", error_log, "-b",
                             f"127.0.0.1:{port}", failing_app("start_throws_app"), cwd=tmp_path)
        assert result.returncode == 1, result.stderr  # as without -D
        assert result.stderr == ("thriftd: the workers failed to boot: App StartThrowsApp failed "
                                 "to start in worker: start_throws_app: cannot reach the "
                                 "database\n")
        wait_until(lambda: "Shutting down: Master" in error_log.read_text(), 10.0,
                   "the daemon to stop")
    finally:
        _stop_daemon(pidfile)


def test_daemon_is_refused_under_systemd(tmp_path, port):
    result = run_thriftd("-D", "-b", f"127.0.0.1:{port}", PINGPONG_SO, cwd=tmp_path,
                         env={"NOTIFY_SOCKET": str(tmp_path / "notify")})
    assert result.returncode == 2
    assert result.stderr == ("thriftd: command line: --daemon: thriftd runs under systemd "
                             "(NOTIFY_SOCKET is set), whose service must not detach; unset "
                             "daemon (the unit is Type=notify)\n")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is missing")
def test_daemon_is_refused_as_pid_1(tmp_path, port):
    allowed = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                             capture_output=True, text=True)
    if allowed.returncode != 0:
        pytest.skip(f"unshare --pid is not permitted here: {allowed.stderr.strip()}")
    result = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", str(THRIFTD_BIN), "-D",
                             "-b", f"127.0.0.1:{port}", str(PINGPONG_SO)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr == ("thriftd: command line: --daemon: thriftd is PID 1 (a container's "
                             "init), which must not detach; unset daemon\n")
