"""App loading failures through the real binary: each is one clear error line
and exit code 1, and the master does not fork replacement workers in a loop.
--check-config loads the App too."""

import re

import pytest

import harness
from harness import PINGPONG_SO, failing_app, run_thriftd

EXIT_APP_ERROR = 1


def _not_an_elf(tmp_path):
    path = tmp_path / "x.so"
    path.write_text("this is a text file, not a shared object\n" * 4)
    return path


# (id, makes the App path given tmp_path, the expected error text given the path)
LOAD_FAILURES = [
    ("file-missing",
     lambda tmp: tmp / "missing.so",
     lambda path: f"cannot load app {path}: No such file or directory"),
    ("not-a-shared-object",
     _not_an_elf,
     lambda path: f"cannot load app {path}: {path}: invalid ELF header"),
    ("entry-point-missing",
     lambda tmp: failing_app("no_entry_app"),
     lambda path: f"cannot load app {path}: no App exported "
                  "(symbol thriftd_app_default missing; use THRIFTD_APP)"),
    ("abi-version-mismatch",
     lambda tmp: failing_app("abi_mismatch_app"),
     lambda path: f"cannot load app {path}: built for App ABI version 999, "
                  "this thriftd loads version 1"),
    ("constructor-threw",
     lambda tmp: failing_app("ctor_throws_app"),
     lambda path: f"cannot load app {path}: App constructor threw: "
                  "ctor_throws_app: missing license key"),
]
START_FAILURE = ("on-worker-start-threw",
                 lambda tmp: failing_app("start_throws_app"),
                 lambda path: "App StartThrowsApp failed to start in worker: "
                              "start_throws_app: cannot reach the database")


def _error_lines(log):
    return [line for line in log.splitlines() if "[ERROR]" in line]


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("name, make_path, expected", LOAD_FAILURES + [START_FAILURE],
                         ids=[case[0] for case in LOAD_FAILURES + [START_FAILURE]])
def test_app_that_fails_to_load_or_start_stops_thriftd_with_exit_1(
        thriftd, tmp_path, port, name, make_path, expected, workers):
    path = make_path(tmp_path)
    server = thriftd(path, "-b", f"127.0.0.1:{port}", "-w", workers)
    assert server.wait_exit(deadline=10) == EXIT_APP_ERROR, server.log()
    log = server.log()
    errors = _error_lines(log)
    assert errors, log
    # One clear line (per failing worker at most; never any other kind of error).
    assert all(line.endswith("[ERROR] " + expected(path)) for line in errors), log
    assert 1 <= len(errors) <= workers, log
    # No fork loop: each worker slot was booted once.
    assert len(re.findall(r"Booting worker with pid", log)) == workers, log
    assert not harness.group_pids(server.pid)


def test_app_that_fails_to_start_stops_thriftd_with_exit_1_under_every_kind(
        thriftd, tmp_path, port, kind, kind_args):
    _, make_path, expected = START_FAILURE
    path = make_path(tmp_path)
    server = thriftd(path, "-b", f"127.0.0.1:{port}", "-w", 2, *kind_args)
    assert server.wait_exit(deadline=10) == EXIT_APP_ERROR, server.log()
    log = server.log()
    assert f"Using worker: {kind}" in log, log
    errors = _error_lines(log)
    assert errors and all(line.endswith("[ERROR] " + expected(path)) for line in errors), log
    assert len(re.findall(r"Booting worker with pid", log)) == 2, log
    assert not harness.group_pids(server.pid)


@pytest.mark.parametrize("name, make_path, expected", LOAD_FAILURES,
                         ids=[case[0] for case in LOAD_FAILURES])
def test_check_config_with_an_app_that_fails_to_load_exits_1(tmp_path, name, make_path,
                                                              expected):
    path = make_path(tmp_path)
    result = run_thriftd("--check-config", path, cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR, result.stderr
    assert result.stderr.splitlines() == [f"thriftd: {expected(path)}"]
    assert "OK" not in result.stdout


def test_check_config_with_a_good_app_prints_ok_and_exits_0(tmp_path):
    port = harness.free_port()
    result = run_thriftd("--check-config", "-w", "3", "-b", f"127.0.0.1:{port}", PINGPONG_SO,
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "thriftd: configuration OK (App PingPongApp, 3 sync worker(s))"]


def test_check_config_leaves_no_socket_file_behind(tmp_path):
    # It binds the socket to check it, then closes it and removes the file.
    path = tmp_path / "check.sock"
    result = run_thriftd("--check-config", "-b", f"unix:{path}", PINGPONG_SO, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not path.exists()


def test_check_config_with_a_bad_config_exits_2(tmp_path):
    result = run_thriftd("--check-config", "-w", "-3", PINGPONG_SO, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'thriftd: command line: --workers: expected a positive integer, got "-3"']


def test_app_named_after_the_path_is_loaded(thriftd, port):
    server = thriftd(f"{PINGPONG_SO}:PingPongApp", "-b", f"127.0.0.1:{port}")
    server.wait_ready(port)


def test_app_name_that_the_object_does_not_export_is_refused(tmp_path):
    result = run_thriftd("--check-config", f"{PINGPONG_SO}:NoSuchApp", cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR
    assert result.stderr.splitlines() == [
        f"thriftd: cannot load app {PINGPONG_SO}: no App named NoSuchApp "
        "(symbol thriftd_app_NoSuchApp missing)"]
