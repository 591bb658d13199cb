"""The process environment gunicorn's users set: umask, chdir and raw_env
(-e), applied in the master before anything is looked for, so that the
master's files and every worker's get them."""

import os
import stat

import harness
from harness import PINGPONG_SO, failing_app, run_thriftd, wait_until


def _umask(pid):
    """The Umask: line of /proc/PID/status, as an int."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError(f"no Umask in /proc/{pid}/status")


def test_a_worker_starts_the_app_in_chdir_with_the_umask_and_raw_env(tmp_path, port):
    srv = tmp_path / "srv"
    srv.mkdir()
    # Named relatively: found from chdir, as gunicorn finds its app module.
    (srv / "libenv.so").symlink_to(failing_app("environment_app"))
    result = run_thriftd("--chdir", srv, "--umask", "027", "-e", "THRIFTD_TEST_VALUE=from -e",
                         "-b", f"127.0.0.1:{port}", "./libenv.so", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "environment_app: reported" in result.stderr
    report = srv / "environment.out"
    assert report.read_text() == "from -e"
    assert stat.S_IMODE(report.stat().st_mode) == 0o640
    assert not (tmp_path / "environment.out").exists()


def test_a_missing_chdir_is_one_line_naming_it(tmp_path, port):
    result = run_thriftd("--chdir", tmp_path / "missing", "-b", f"127.0.0.1:{port}", PINGPONG_SO,
                         cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"thriftd: command line: --chdir: chdir({tmp_path / 'missing'}): "
                             "No such file or directory\n")


def test_the_master_and_workers_run_in_chdir_with_the_umask(thriftd, tmp_path, port):
    srv = tmp_path / "srv"
    srv.mkdir()
    server = thriftd(PINGPONG_SO, "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir", srv,
                     "--umask", "0077", "--error-logfile", "error.log")
    workers = server.wait_ready(port, workers=2)
    for pid in [server.pid, *workers]:
        assert _umask(pid) == 0o077
        assert os.readlink(f"/proc/{pid}/cwd") == str(srv)
    # The master opened the relative error log after chdir, under the mask.
    log = srv / "error.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert not (tmp_path / "error.log").exists()
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_hup_reads_a_relative_config_file_from_the_start_directory_and_sets_the_umask(
        thriftd, tmp_path, port):
    srv = tmp_path / "srv"
    srv.mkdir()
    config = tmp_path / "thriftd.yaml"
    base = f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\n"
    config.write_text(base + "umask: 0022\n")
    server = thriftd("-c", "thriftd.yaml", "--chdir", srv)
    old = server.wait_ready(port)
    assert _umask(old[0]) == 0o022
    config.write_text(base + "umask: 0077\n")
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(r"Generation 2 is serving", since=mark)
    new = wait_until(lambda: [p for p in server.worker_pids() if p not in old], 10.0,
                     "a worker of the new generation")
    assert _umask(new[0]) == 0o077
    assert _umask(server.pid) == 0o077
    assert os.readlink(f"/proc/{server.pid}/cwd") == str(srv)
    assert "Reload failed" not in server.log()
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_an_abandoned_reload_puts_the_umask_and_title_back(thriftd, tmp_path, port):
    """Regression: the umask and the process title of a reload whose workers
    could not start stayed in force, and the kept generation's replacement
    workers inherited them."""
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\numask: 0022\n"
                      "proc_name: kept\n")
    server = thriftd("-c", config)
    (old,) = server.wait_ready(port)
    config.write_text(f"app: {failing_app('start_throws_app')}\nbind: 127.0.0.1:{port}\n"
                      "umask: 0077\nproc_name: abandoned\n")
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(r"Reload failed; keeping generation 1", since=mark)
    wait_until(lambda: _umask(server.pid) == 0o022, 10.0, "the master's umask to go back")
    wait_until(lambda: b"[kept]" in open(f"/proc/{server.pid}/cmdline", "rb").read(), 10.0,
               "the master's title to go back")
    # A replacement of the kept generation inherits what is in force again.
    os.kill(old, 9)
    (new,) = server.wait_ready(port)
    assert new != old
    assert _umask(new) == 0o022


def test_the_pidfile_is_0644_under_any_umask_and_never_written_through_a_link(thriftd, tmp_path,
                                                                               port):
    target = tmp_path / "target"
    target.write_text("precious\n")
    link = tmp_path / "linked.pid"
    link.symlink_to(target)
    result = run_thriftd("-p", link, "-b", f"127.0.0.1:{port}", PINGPONG_SO, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"thriftd: command line: --pid: pidfile {link} is a symbolic link; "
                             "refusing to write through it\n")
    assert target.read_text() == "precious\n"

    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "-p", pidfile, "--umask", "0")
    server.wait_ready(port)
    assert pidfile.read_text() == f"{server.pid}\n"
    assert stat.S_IMODE(pidfile.stat().st_mode) == 0o644
    server.signal("TERM")
    assert server.wait_exit() == 0
