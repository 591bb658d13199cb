"""App loading failures through the real binary: each is one clear error line
and exit code 1, and the master does not fork replacement workers in a loop.
--check-config loads the App too. A deployed App overwritten in place does not
crash the workers running it; the next HUP serves the new one."""

import re
import shutil

import pytest

import harness
from harness import KEYVALUE_SO, PINGPONG_SO, CallLoad, failing_app, run_thriftd

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
     lambda path: f"cannot load app {path}: no App exported (use THRIFTD_APP)"),
    ("abi-version-mismatch",
     lambda tmp: failing_app("abi_mismatch_app"),
     lambda path: f"cannot load app {path}: built for App ABI version 999, "
                  "this thriftd loads versions 1 to 2"),
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
    result = run_thriftd("--check-config", "-b", "127.0.0.1:0", path, cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR, result.stderr
    assert result.stderr.splitlines() == [f"thriftd: {expected(path)}"]
    assert "OK" not in result.stdout


def test_an_app_a_config_file_names_fails_with_the_files_name_and_line(thriftd, tmp_path, port):
    _, make_path, expected = LOAD_FAILURES[0]
    path = make_path(tmp_path)
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"bind: ['127.0.0.1:{port}']\napp: {path}\n")
    line = f"{config}:2: app: {expected(path)}"
    result = run_thriftd("--check-config", "-c", config, cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR, result.stderr
    assert result.stderr.splitlines() == [f"thriftd: {line}"]
    server = thriftd("-c", config)
    assert server.wait_exit(deadline=10) == EXIT_APP_ERROR, server.log()
    errors = _error_lines(server.log())
    assert errors and all(error.endswith(f"[ERROR] {line}") for error in errors), server.log()


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
    result = run_thriftd("--check-config", "-b", "127.0.0.1:0", f"{PINGPONG_SO}:NoSuchApp",
                         cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR
    assert result.stderr.splitlines() == [
        f"thriftd: cannot load app {PINGPONG_SO}: no App named NoSuchApp "
        "(it exports PingPongApp)"]


# --- deploying over the running App ----------------------------------------------


def _overwrite_in_place(path, source):
    """What `cp source path` does to an existing file: truncates the same
    inode and writes the new bytes into it (no new file, no rename)."""
    inode = path.stat().st_ino
    with open(path, "wb") as file:
        file.write(source.read_bytes())
    assert path.stat().st_ino == inode


def _serves(port, service):
    """A check for server.wait: a call to `service` answers."""
    def check():
        try:
            harness.probe(port, service, timeout=1.0)
            return True
        except Exception:  # the other App (still) serving, or a worker booting
            return False
    return check


def _new_generation_serves(server, port, service, old):
    """After a HUP: two workers, none of `old`, and `service` answers."""
    server.wait(lambda: (lambda pids: len(pids) == 2 and not set(pids) & set(old))(
        server.worker_pids()), 20.0, f"2 new workers (old {old})")
    server.wait(_serves(port, service), 10.0, f"a {service} call to answer")
    return server.worker_pids()


def test_an_app_overwritten_in_place_keeps_serving_and_hup_loads_the_new_one(
        thriftd, tmp_path, port, kind, kind_args):
    # Each worker loads the App from its own private copy, so `cp new.so
    # app.so` over the file does not touch the code it runs (dlopen()ing the
    # file itself would map that inode, and the workers would die of SIGBUS).
    app = tmp_path / "app.so"
    shutil.copyfile(PINGPONG_SO, app)
    server = thriftd(app, "-b", f"127.0.0.1:{port}", "-w", 2, *kind_args)
    workers = server.wait_ready(port, workers=2)
    # Sync workers hold a connection each: one persistent client, and one
    # connection per call that the other worker serves.
    with CallLoad(port, persistent=1, fresh=1) as load:
        load.wait_answered(50, server)
        _overwrite_in_place(app, KEYVALUE_SO)
        load.wait_answered(300, server)
    assert (load.lost, load.refused) == (0, 0), load.summary()
    assert server.worker_pids() == workers, server.log()
    assert "was sent SIG" not in server.log(), server.log()
    with harness.py_client(port) as client:
        assert client.add(20, 22) == 42  # the old code, still pingpong

    # A HUP loads what the file holds now.
    server.signal("HUP")
    keyvalue = _new_generation_serves(server, port, "keyvalue", workers)
    # Put pingpong back the same way, under the keyvalue workers, and HUP again.
    _overwrite_in_place(app, PINGPONG_SO)
    server.wait(_serves(port, "keyvalue"), 10.0, "the keyvalue workers to answer")
    assert server.worker_pids() == keyvalue, server.log()
    server.signal("HUP")
    _new_generation_serves(server, port, "pingpong", keyvalue)
    with harness.py_client(port) as client:
        assert client.add(20, 22) == 42
    assert "was sent SIG" not in server.log(), server.log()
