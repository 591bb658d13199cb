"""What the master keeps to itself.

- Descriptors: workers fork without exec, so close-on-exec does not keep the
  master's descriptors from them. A worker holds stdio, the error log, its
  own channel and the listening sockets, nothing else: not the metrics
  endpoint's socket (nor a metrics client's connection), not another
  worker's channel. The only sockets a worker shares with the master are
  the listening ones.
- Master-wide settings follow the generation being served: a reload whose
  App fails to start is abandoned, and the error log goes back to the file
  and level it had before the HUP. A reload whose error log cannot be opened
  is rejected before anything of it is applied.
"""

import os
import re
import socket
from pathlib import Path

import harness
from harness import PINGPONG_SO, wait_until


def socket_inodes(pid):
    """The inodes of the sockets pid holds, from /proc/PID/fd."""
    inodes = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(entry)
        except FileNotFoundError:  # closed while we looked
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            inodes.add(int(match.group(1)))
    return inodes


def listening_inodes(port):
    """The inodes of the TCP sockets listening on `port`, from /proc/net/tcp."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], int(fields[9])
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            inodes.add(inode)
    return inodes


def wait_worker_sockets(server, workers, listeners):
    """Waits until each worker shares exactly the listening sockets with the
    master (a child closes the others right after fork, before its App loads)."""
    assert listeners <= socket_inodes(server.pid)
    for pid in workers:
        def shared():
            return socket_inodes(pid) & socket_inodes(server.pid)
        server.wait(lambda: shared() == listeners, 10.0,
                    lambda: f"worker {pid} to share only the listeners {sorted(listeners)} "
                            f"with the master; it shares {sorted(shared())}")


def test_no_worker_holds_the_metrics_socket_or_another_workers_channel(thriftd, port):
    metrics_port = harness.free_port()
    server = thriftd(PINGPONG_SO, "-w", "3", "--metrics-bind", f"127.0.0.1:{metrics_port}",
                     "-b", f"127.0.0.1:{port}")
    workers = server.wait_ready(port, workers=3)
    metrics = listening_inodes(metrics_port)
    listeners = listening_inodes(port)
    assert len(metrics) == 1 and len(listeners) == 1
    assert metrics <= socket_inodes(server.pid)
    wait_worker_sockets(server, workers, listeners)
    for pid in workers:
        assert not socket_inodes(pid) & metrics, f"worker {pid} holds the metrics socket"


def test_a_worker_forked_during_a_metrics_request_does_not_hold_its_connection(thriftd, port):
    metrics_port = harness.free_port()
    server = thriftd(PINGPONG_SO, "-w", "1", "--metrics-bind", f"127.0.0.1:{metrics_port}",
                     "-b", f"127.0.0.1:{port}")
    first = server.wait_ready(port)
    before = socket_inodes(server.pid)
    with socket.create_connection(("127.0.0.1", metrics_port), timeout=5) as client:
        client.sendall(b"GET /metrics HTTP/1.1\r\n")  # the rest of the request never comes
        server.wait(lambda: socket_inodes(server.pid) - before, 10.0,
                    "the master to accept the metrics connection")
        server.signal("TTIN")
        workers = server.wait_workers(2)
        (new,) = set(workers) - set(first)
        wait_worker_sockets(server, [new], listening_inodes(port))
    harness.probe(port)


def test_an_abandoned_reload_puts_the_error_log_back(thriftd, tmp_path, port):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 1\n")
    server = thriftd("-c", config)
    old = server.wait_ready(port)
    # The new generation logs to a file, warnings and up, and cannot start its App.
    reload_log = tmp_path / "reload.log"
    config.write_text(f"app: {tmp_path / 'missing.so'}\nbind: 127.0.0.1:{port}\nworkers: 1\n"
                      f"errorlog: {reload_log}\nloglevel: warning\n")
    server.signal("HUP")
    server.wait(lambda: reload_log.exists() and
                "Reload failed; keeping generation 1" in reload_log.read_text(), 10.0,
                lambda: f"the failed reload in {reload_log}: "
                        f"{reload_log.read_text() if reload_log.exists() else '(none)'}")
    server.wait(lambda: server.worker_pids() == old, 10.0, f"only the old worker {old}")
    # Back to stderr, at info: an INFO line there shows both.
    mark = server.log_mark()
    server.signal("TTIN")
    server.wait_for_log(r"\[INFO\] Handling signal: ttin; workers: 2$", since=mark)
    wait_until(lambda: len(server.worker_pids()) == 2, 10.0, "the second worker")
    harness.probe(port)


def test_a_reload_whose_error_log_cannot_be_opened_is_rejected(thriftd, tmp_path, port):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 1\n")
    server = thriftd("-c", config)
    (old,) = server.wait_ready(port)
    config.write_text(f"app: {PINGPONG_SO}\nbind: 127.0.0.1:{port}\nworkers: 3\n"
                      f"errorlog: {tmp_path / 'missing' / 'error.log'}\n")
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(
        rf"\[ERROR\] Reload failed, keeping the running configuration: "
        rf"{re.escape(str(config))}:4: errorlog: cannot write .*/missing/error\.log: "
        rf".*/missing: No such file or directory$", since=mark)
    # Nothing of it was applied: the log is still stderr at info, and one
    # worker more makes two, not four.
    mark = server.log_mark()
    server.signal("TTIN")
    server.wait_for_log(r"\[INFO\] Handling signal: ttin; workers: 2$", since=mark)
    assert "Reloading" not in server.log()
    workers = server.wait_workers(2)
    assert old in workers
    harness.probe(port)
