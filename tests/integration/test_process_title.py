"""Process titles (proc_name, -n): ps tells the master from the workers and
one thriftd from another, and a binary upgrade still runs the binary."""

import harness
from harness import PINGPONG_SO, py_client


def _cmdline(pid):
    """What ps shows: /proc/PID/cmdline up to its first NUL."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[0].decode()


def _comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


def test_titles_name_the_master_and_each_worker(thriftd, port):
    server = thriftd(PINGPONG_SO, "-n", "billing", "-w", "2", "-k", "thread", "-b",
                     f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=2)
    assert _cmdline(server.pid) == "thriftd: master [billing]"
    assert _comm(server.pid) == "thriftd: master"
    assert sorted(_cmdline(pid) for pid in workers) == [
        "thriftd: worker [billing] thread 0", "thriftd: worker [billing] thread 1"]
    assert {_comm(pid) for pid in workers} == {"thriftd: worker"}
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_the_default_name_is_the_apps_file_name(thriftd, port):
    # Without the ":NAME" that chooses the App inside the file.
    server = thriftd(f"{PINGPONG_SO}:PingPongApp", "-b", f"127.0.0.1:{port}")
    (worker,) = server.wait_ready(port)
    assert _cmdline(server.pid) == f"thriftd: master [{PINGPONG_SO.name}]"
    assert _cmdline(worker) == f"thriftd: worker [{PINGPONG_SO.name}] sync 0"
    server.signal("TERM")
    assert server.wait_exit() == 0


def test_usr2_runs_the_binary_again_with_a_title_set(thriftd, adopt, tmp_path, port):
    pidfile = tmp_path / "thriftd.pid"
    server = thriftd(PINGPONG_SO, "-n", "billing", "-b", f"127.0.0.1:{port}", "-p", pidfile)
    server.wait_ready(port)
    server.signal("USR2")
    match = server.wait_for_log(r"Upgrade: the new master \(pid (\d+)\) is serving")
    new = adopt(int(match.group(1)))
    assert _cmdline(new.pid) == "thriftd: master [billing]"
    server.signal("TERM")
    assert server.wait_exit(20) == 0
    with py_client(port) as client:
        assert client.ping() == "pong"
    new.signal("TERM")
    assert new.wait_exit(20) == 0
