"""pytest fixtures for the integration tests; the helpers live in harness.py."""

import pytest

import harness


@pytest.fixture
def thriftd(tmp_path):
    """A factory: thriftd(*args, cwd=tmp_path, env=None, graceful=10.0,
    binary=None) starts the thriftd binary (or `binary`, a path to it) and
    returns a harness.Thriftd. Every master started is
    stopped at teardown (SIGTERM, then SIGKILL to its process group after
    `graceful` seconds) and none of its processes outlives the test."""
    started = []

    def start(*args, cwd=None, env=None, graceful=10.0, binary=None):
        server = harness.Thriftd(args, cwd or tmp_path, env=env, graceful=graceful, binary=binary)
        started.append(server)
        return server

    yield start
    errors = []
    for server in reversed(started):
        try:
            server.stop()
        except Exception as e:  # stop the others even if one misbehaves
            errors.append(f"pid {server.pid}: {e}")
    if errors:
        pytest.fail("thriftd teardown: " + "; ".join(errors))


@pytest.fixture
def port():
    """A free TCP port on 127.0.0.1."""
    return harness.free_port()


@pytest.fixture(params=harness.KINDS)
def kind(request):
    """Each built-in worker kind in turn: "sync", "thread", "fiber"."""
    return request.param


@pytest.fixture
def kind_args(kind):
    """The command-line arguments selecting `kind` (harness.KIND_ARGS): the
    thread kind runs with --threads 4."""
    return harness.kind_args(kind)


@pytest.fixture
def adopt():
    """For binary upgrades: makes the test process the reaper of orphans in
    its subtree while the test runs, and returns a factory adopt(pid) ->
    harness.Adopted for a new master, which outlives the old master that
    started it. Each adopted master is stopped (TERM, then KILL) and reaped
    at teardown, before the `thriftd` fixture's, when the test names `adopt`
    after `thriftd`."""
    harness.become_subreaper()
    adopted = []

    def take(pid):
        process = harness.Adopted(pid)
        adopted.append(process)
        return process

    yield take
    try:
        for process in adopted:
            process.stop()
    finally:
        harness.become_subreaper(False)
