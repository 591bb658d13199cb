"""preload_app (--preload), gunicorn's: the App is loaded and constructed once,
in the master, before any worker forks; each worker runs OnWorkerStart on
its inherited copy; a HUP starts new workers from that same copy (the old
code), and --check-config loads it as the master would."""

import os
import shutil

import harness
from harness import PINGPONG_SO, TEST_APPS_DIR, run_thriftd, wait_until

PRELOAD_SO = TEST_APPS_DIR / "libpreload_app.so"


def _echo(port):
    with harness.py_client(port) as client:
        return client.echo(b"hi").decode()


def _constructed(path):
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_the_app_is_constructed_once_in_the_master_and_every_worker_serves_it(
        thriftd, tmp_path, port):
    constructed = tmp_path / "constructed"
    server = thriftd("--preload", PRELOAD_SO, "-w", "2", "-b", f"127.0.0.1:{port}",
                     env={"THRIFTD_TEST_CONSTRUCTED": str(constructed)})
    workers = server.wait_ready(port, workers=2)
    assert _constructed(constructed) == [server.pid]
    assert "Preloaded App PreloadApp in the master" in server.log()
    # Calls over fresh connections reach both workers; each answers with the
    # master's construction.
    for _ in range(10):
        assert _echo(port) == f"hi from {server.pid}"
    # The App's code is mapped in the master, and the workers share its pages.
    assert _app_mapping(server.pid) is not None
    assert all(_app_mapping(pid) == _app_mapping(server.pid) for pid in workers)
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_what_the_preloaded_app_opened_stays_open_in_every_worker(thriftd, tmp_path, port):
    # The App's objects use the descriptors its constructor opened: a worker
    # that closed them (as it closes the master's own) would leave the App
    # writing into whatever reused the number, a client's connection even.
    constructed = tmp_path / "constructed"
    server = thriftd("--preload", PRELOAD_SO, "-w", "2", "-b", f"127.0.0.1:{port}",
                     env={"THRIFTD_TEST_CONSTRUCTED": str(constructed)})
    server.wait_ready(port, workers=2)
    for _ in range(10):
        with harness.py_client(port) as client:
            assert client.echo(b"fd").decode() == str(constructed)
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_without_preload_each_worker_constructs_its_own(thriftd, tmp_path, port):
    constructed = tmp_path / "constructed"
    server = thriftd(PRELOAD_SO, "-w", "2", "-b", f"127.0.0.1:{port}",
                     env={"THRIFTD_TEST_CONSTRUCTED": str(constructed)})
    workers = server.wait_ready(port, workers=2)
    assert sorted(_constructed(constructed)) == sorted(workers)
    assert _app_mapping(server.pid) is None


def _app_mapping(pid):
    """The (device, inode) of the App's private copy mapped in `pid`, or None."""
    for line in open(f"/proc/{pid}/maps"):
        fields = line.split()
        if len(fields) >= 6 and "preload_app" in line:
            return fields[3], fields[4]
    return None


def test_hup_keeps_the_preloaded_code_even_when_the_file_changed(thriftd, tmp_path, port):
    app = tmp_path / "app.so"
    shutil.copyfile(PRELOAD_SO, app)
    server = thriftd("--preload", app, "-w", "2", "-b", f"127.0.0.1:{port}")
    old = server.wait_ready(port, workers=2)
    assert _echo(port) == f"hi from {server.pid}"
    # Deploy pingpong over it (its echo answers "hi"), then HUP.
    with open(app, "wb") as file:
        file.write(PINGPONG_SO.read_bytes())
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(r"Generation 2 is serving", since=mark, deadline=20.0)
    wait_until(lambda: not set(server.worker_pids()) & set(old), 20.0, "the old workers to go")
    assert _echo(port) == f"hi from {server.pid}"  # the old code: gunicorn's semantics
    assert "not from the file on disk" in server.log()
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_a_preload_failure_is_one_line_at_start_and_at_check(tmp_path, port):
    for check in ([], ["--check-config"]):
        result = run_thriftd(*check, "--preload", harness.failing_app("ctor_throws_app"), "-b",
                             f"127.0.0.1:{port}", cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("thriftd: ")]
        assert len(lines) == 1 and "ctor_throws_app" in lines[0], result.stderr
    result = run_thriftd("--check-config", "--preload", PRELOAD_SO, "-b", f"127.0.0.1:{port}",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_worker_of_a_preloaded_app_still_reports_its_boot_error(tmp_path, port):
    result = run_thriftd("--preload", harness.failing_app("start_throws_app"), "-b",
                         f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 1
    assert "failed to start in worker" in result.stderr, result.stderr
