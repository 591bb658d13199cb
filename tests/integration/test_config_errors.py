"""Bad configurations: each one is refused before anything starts, with one
line on stderr naming where the bad value came from (file and line, command
line, or THRIFTD_CMD_ARGS), and exit code 2. Relative paths in a config file
are taken from the file's directory."""

import socket
from dataclasses import dataclass, field

import pytest

import harness
from harness import PINGPONG_SO, run_thriftd

EXIT_CONFIG_ERROR = 2
ADDRESS_FORMS = ("(HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, unix:PATH, fd://N or "
                 "systemd:NAME)")


@dataclass
class BadConfig:
    name: str
    args: list                    # {app} -> the pingpong App, {port} -> a free port
    expected: str                 # the whole first stderr line; {port} substituted
    yaml: str = None              # written to bad.yaml in the working directory
    env: dict = field(default_factory=dict)


CASES = [
    BadConfig("unknown-yaml-key-with-suggestion",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:2: workerz: unknown setting (did you mean workers?)",
              yaml="bind: 127.0.0.1:{port}\nworkerz: 2\n"),
    BadConfig("unknown-yaml-key-without-suggestion",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:1: colour: unknown setting",
              yaml="colour: blue\n"),
    BadConfig("unknown-cli-option-with-suggestion",
              ["--wrokers", "2", "{app}"],
              "thriftd: command line: unknown option --wrokers (did you mean --workers?)"),
    BadConfig("workers-wrong-type",
              ["-c", "bad.yaml", "{app}"],
              'thriftd: bad.yaml:1: workers: expected a positive integer, got "abc"',
              yaml="workers: abc\n"),
    BadConfig("workers-negative",
              ["-c", "bad.yaml", "{app}"],
              'thriftd: bad.yaml:2: workers: expected a positive integer, got "-1"',
              yaml="app: {app}\nworkers: -1\n"),
    BadConfig("workers-zero-on-command-line",
              ["-w", "0", "{app}"],
              'thriftd: command line: --workers: expected a positive integer, got "0"'),
    BadConfig("backlog-zero",
              ["-c", "bad.yaml", "{app}"],
              'thriftd: bad.yaml:1: backlog: expected a positive integer, got "0"',
              yaml="backlog: 0\n"),
    BadConfig("graceful-timeout-negative",
              ["--graceful-timeout", "-1", "{app}"],
              "thriftd: command line: --graceful-timeout: expected a non-negative number of "
              'seconds, got "-1"'),
    BadConfig("option-without-its-value",
              ["{app}", "-w"],
              "thriftd: command line: --workers: expected a positive integer, got nothing"),
    BadConfig("bind-host-without-port",
              ["-b", "nohost", "{app}"],
              f'thriftd: command line: --bind: expected an address {ADDRESS_FORMS}, got "nohost"'),
    BadConfig("bind-port-out-of-range",
              ["-b", "1.2.3.4:99999", "{app}"],
              f"thriftd: command line: --bind: expected an address {ADDRESS_FORMS}, "
              'got "1.2.3.4:99999"'),
    BadConfig("bind-unclosed-ipv6-bracket",
              ["-b", "[::1", "{app}"],
              f'thriftd: command line: --bind: expected an address {ADDRESS_FORMS}, got "[::1"'),
    BadConfig("bind-unix-without-path",
              ["-b", "unix:", "{app}"],
              f'thriftd: command line: --bind: expected an address {ADDRESS_FORMS}, got "unix:"'),
    BadConfig("bind-address-listed-twice",
              ["-b", "127.0.0.1:{port}", "-b", "127.0.0.1:{port},thrift_protocol_factory=compact",
               "{app}"],
              "thriftd: command line: --bind: 127.0.0.1:{port}: listed twice"),
    BadConfig("bind-address-listed-twice-in-yaml",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:2: bind: 127.0.0.1:{port}: listed twice",
              yaml="workers: 1\nbind: [\"127.0.0.1:{port}\", {address: \"127.0.0.1:{port}\", "
                   "thrift_protocol_factory: json}]\n"),
    BadConfig("bind-bad-address-in-yaml",
              ["-c", "bad.yaml", "{app}"],
              f'thriftd: bad.yaml:1: bind: expected an address {ADDRESS_FORMS}, got "nohost"',
              yaml="bind: nohost\n"),
    BadConfig("unknown-transport",
              ["--thrift-transport-factory", "zip", "{app}"],
              "thriftd: command line: --thrift-transport-factory: expected one of buffered, "
              'framed, header, zlib, got "zip"'),
    BadConfig("unknown-protocol-in-yaml",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:1: thrift_protocol_factory: expected one of binary, compact, "
              'json, header, got "thrift"',
              yaml="thrift_protocol_factory: thrift\n"),
    BadConfig("unknown-worker-class",
              ["-k", "nope", "{app}"],
              'thriftd: command line: --worker-class: expected one of sync, thread, fiber '
              'or PATH.so[:NAME], got "nope"'),
    BadConfig("header-protocol-with-buffered-transport",
              ["--thrift-transport-factory", "buffered", "--thrift-protocol-factory", "header",
               "{app}"],
              "thriftd: command line: --thrift-protocol-factory: header needs "
              'thrift_transport_factory header or framed, got "buffered" '
              "(from command line: --thrift-transport-factory)"),
    BadConfig("header-protocol-with-default-buffered-transport",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:1: thrift_protocol_factory: header needs "
              'thrift_transport_factory header or framed, got "buffered" '
              "(from default: thrift_transport_factory)",
              yaml="thrift_protocol_factory: header\n"),
    BadConfig("config-file-missing",
              ["-c", "/nonexistent.yaml", "{app}"],
              "thriftd: command line: --config: cannot read /nonexistent.yaml: "
              "No such file or directory"),
    BadConfig("malformed-yaml-names-the-line",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:3: malformed YAML: illegal map value",
              yaml="workers: 2\nbacklog: 10\nbind: a: b\n"),
    BadConfig("yaml-tab-indentation-names-the-line",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:2: malformed YAML: illegal tab when looking for indentation",
              yaml="workers: 2\n\tbind: x\n"),
    BadConfig("yaml-list-at-top-level",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:1: expected a mapping of settings (key: value)",
              yaml="- workers\n- 2\n"),
    BadConfig("yaml-mapping-where-a-number-belongs",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:2: workers: expected a positive integer, got a YAML mapping",
              yaml="backlog: 5\nworkers:\n  count: 2\n"),
    BadConfig("yaml-sequence-where-a-number-belongs",
              ["-c", "bad.yaml", "{app}"],
              "thriftd: bad.yaml:1: graceful_timeout: expected a non-negative number of "
              "seconds, got a YAML sequence",
              yaml="graceful_timeout: [1, 2]\n"),
    BadConfig("thriftd-cmd-args-bad-value",
              ["{app}"],
              'thriftd: THRIFTD_CMD_ARGS: --workers: expected a positive integer, got "x"',
              env={"THRIFTD_CMD_ARGS": "-w x"}),
    BadConfig("thriftd-cmd-args-unknown-option",
              ["{app}"],
              "thriftd: THRIFTD_CMD_ARGS: unknown option --nope",
              env={"THRIFTD_CMD_ARGS": "--nope"}),
    BadConfig("no-app-given",
              ["-b", "127.0.0.1:{port}"],
              "thriftd: no App given: run thriftd PATH.so[:NAME], or set app: in the config file"),
    BadConfig("two-apps-given",
              ["{app}", "{app}"],
              "thriftd: command line: more than one App given (expected one PATH.so[:NAME])"),
    BadConfig("log-level-unknown",
              ["--log-level", "loud", "{app}"],
              "thriftd: command line: --log-level: expected one of debug, info, warning, error, "
              'critical, got "loud"'),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_config_is_refused_with_one_clear_line_and_exit_2(tmp_path, case):
    port = harness.free_port()
    fill = lambda text: text.replace("{app}", str(PINGPONG_SO)).replace("{port}", str(port))
    if case.yaml is not None:
        (tmp_path / "bad.yaml").write_text(fill(case.yaml))
    result = run_thriftd(*[fill(a) for a in case.args], cwd=tmp_path,
                         env={k: fill(v) for k, v in case.env.items()}, deadline=10)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr.splitlines() == [fill(case.expected)], result.stderr
    assert result.stdout == ""


def test_table_has_at_least_15_bad_configs():
    assert len(CASES) >= 15


def test_port_in_use_is_refused_with_exit_2(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_thriftd("-b", f"127.0.0.1:{port}", PINGPONG_SO, cwd=tmp_path, deadline=10)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr.splitlines() == [
        f"thriftd: command line: --bind: cannot listen on 127.0.0.1:{port}: "
        "bind: Address already in use"]


def test_port_in_use_on_a_second_bind_leaves_no_unix_socket_behind(tmp_path):
    path = tmp_path / "first.sock"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_thriftd("-b", f"unix:{path}", "-b", f"127.0.0.1:{port}", PINGPONG_SO,
                             cwd=tmp_path, deadline=10)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert "Address already in use" in result.stderr
    assert not path.exists()


def test_config_path_that_is_a_directory_is_refused(tmp_path):
    # Reading a directory "succeeds" with ifstream; thriftd must not take it
    # for an empty config and start serving with the defaults.
    port = harness.free_port()
    result = run_thriftd("-c", tmp_path, "-b", f"127.0.0.1:{port}", PINGPONG_SO,
                         cwd=tmp_path, deadline=3)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr.splitlines()[0].startswith(
        f"thriftd: command line: --config: cannot read {tmp_path}"), result.stderr


def test_pidfile_in_a_missing_directory_is_refused_with_exit_2(tmp_path):
    port = harness.free_port()
    pidfile = tmp_path / "no-such-dir" / "thriftd.pid"
    result = run_thriftd("-b", f"127.0.0.1:{port}", "-p", pidfile, PINGPONG_SO, cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("thriftd: command line: --pid: ")
    assert str(pidfile.parent) in line and "No such file or directory" in line


# --- --check-config: what a start would fail on -----------------------------------------

EXIT_APP_ERROR = 1
HELD = object()  # a port some other socket listens on


@dataclass
class StartFailure:
    """A configuration that validates but cannot start. `args` and `yaml`
    (written to check.yaml) hold placeholders: {app}, {port} (the listener),
    {metrics}, {dir} (a directory, relative to the working directory and the
    file). Fine, {app} is the pingpong App, the ports are free and {dir}
    exists; `breaks` replaces some with the failing value (HELD: a port in
    use)."""
    name: str
    args: list
    breaks: dict
    expected: str                 # the one stderr line; {tmp} is the working directory
    status: int
    yaml: str = None


START_FAILURES = [
    StartFailure("on-worker-start-throws",
                 ["{app}", "-b", "127.0.0.1:{port}"],
                 {"app": harness.failing_app("start_throws_app")},
                 "thriftd: App StartThrowsApp failed to start in worker: "
                 "start_throws_app: cannot reach the database",
                 EXIT_APP_ERROR),
    StartFailure("null-processor-factory",
                 ["{app}", "-b", "127.0.0.1:{port}"],
                 {"app": harness.failing_app("null_factory_app")},
                 "thriftd: App NullFactoryApp returned no processor factory",
                 EXIT_APP_ERROR),
    StartFailure("port-in-use",
                 ["-c", "check.yaml"],
                 {"port": HELD},
                 "thriftd: check.yaml:2: bind: cannot listen on 127.0.0.1:{port}: "
                 "bind: Address already in use",
                 EXIT_CONFIG_ERROR,
                 yaml="app: {app}\nbind: [\"unix:{dir}/s.sock\", \"127.0.0.1:{port}\"]\n"),
    StartFailure("metrics-port-in-use",
                 ["{app}", "-b", "127.0.0.1:{port}", "--metrics-bind", "127.0.0.1:{metrics}"],
                 {"metrics": HELD},
                 "thriftd: command line: --metrics-bind: cannot listen on 127.0.0.1:{metrics}: "
                 "bind: Address already in use",
                 EXIT_CONFIG_ERROR),
    StartFailure("pidfile-directory-missing",
                 ["-c", "check.yaml"],
                 {"dir": "missing"},
                 "thriftd: check.yaml:3: pidfile: cannot write {tmp}/missing/thriftd.pid: "
                 "{tmp}/missing: No such file or directory",
                 EXIT_CONFIG_ERROR,
                 yaml="app: {app}\nbind: 127.0.0.1:{port}\npidfile: {dir}/thriftd.pid\n"),
    StartFailure("access-log-directory-missing",
                 ["{app}", "-b", "127.0.0.1:{port}", "--access-logfile", "{dir}/access.log"],
                 {"dir": "missing"},
                 "thriftd: command line: --access-logfile: cannot write missing/access.log: "
                 "missing: No such file or directory",
                 EXIT_CONFIG_ERROR),
    StartFailure("error-log-directory-missing",
                 ["-c", "check.yaml"],
                 {"dir": "missing"},
                 "thriftd: check.yaml:3: errorlog: cannot write {tmp}/missing/error.log: "
                 "{tmp}/missing: No such file or directory",
                 EXIT_CONFIG_ERROR,
                 yaml="app: {app}\nbind: 127.0.0.1:{port}\nerrorlog: {dir}/error.log\n"),
]


def _tree(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("broken", [True, False], ids=["broken", "fine"])
@pytest.mark.parametrize("case", START_FAILURES, ids=[c.name for c in START_FAILURES])
def test_check_config_fails_in_one_line_where_a_start_would(tmp_path, case, broken):
    (tmp_path / "present").mkdir()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        values = {"app": PINGPONG_SO, "port": harness.free_port(),
                  "metrics": harness.free_port(), "dir": "present"}
        if broken:
            values.update({key: holder.getsockname()[1] if value is HELD else value
                           for key, value in case.breaks.items()})

        def fill(text):
            for key, value in values.items():
                text = text.replace("{" + key + "}", str(value))
            return text.replace("{tmp}", str(tmp_path))

        if case.yaml is not None:
            (tmp_path / "check.yaml").write_text(fill(case.yaml))
        before = _tree(tmp_path)
        result = run_thriftd("--check-config", *[fill(a) for a in case.args], cwd=tmp_path)
    if broken:
        assert result.returncode == case.status, result.stderr
        assert result.stderr.splitlines() == [fill(case.expected)], result.stderr
        assert result.stdout == ""
    else:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert result.stdout.splitlines() == [
            "thriftd: configuration OK (App PingPongApp, 1 sync worker(s))"]
    # Bound and released, written nowhere: the directory is as it was.
    assert _tree(tmp_path) == before


def test_check_config_releases_every_port_it_bound(tmp_path):
    port, metrics = harness.free_port(), harness.free_port()
    result = run_thriftd("--check-config", PINGPONG_SO, "-b", f"127.0.0.1:{port}",
                         "--metrics-bind", f"127.0.0.1:{metrics}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for taken in (port, metrics):
        with socket.socket() as again:
            again.bind(("127.0.0.1", taken))


def test_check_config_notes_the_inherited_sockets_it_cannot_check(tmp_path):
    port = harness.free_port()
    result = run_thriftd("--check-config", PINGPONG_SO, "-b", "fd://3", "-b", "systemd:web",
                         "-b", f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "thriftd: bind fd://3 not checked: an inherited socket, not one thriftd binds",
        "thriftd: bind systemd:web not checked: an inherited socket, not one thriftd binds",
        "thriftd: configuration OK (App PingPongApp, 1 sync worker(s))"]


def test_check_config_gives_up_on_an_app_that_does_not_start_within_the_timeout(tmp_path):
    result = run_thriftd("--check-config", harness.failing_app("start_hangs_app"),
                         "-t", "0.5", "-b", f"127.0.0.1:{harness.free_port()}", cwd=tmp_path)
    assert result.returncode == EXIT_APP_ERROR, result.stderr
    assert result.stderr.splitlines() == [
        "thriftd: App did not start in worker within 0.5s (timeout); a worker would be killed"]


def test_an_access_log_in_a_missing_directory_stops_a_start_with_exit_2(thriftd, tmp_path):
    sock = tmp_path / "never.sock"
    server = thriftd(PINGPONG_SO, "-b", f"unix:{sock}", "--access-logfile",
                     tmp_path / "missing" / "access.log")
    assert server.wait_exit() == EXIT_CONFIG_ERROR, server.log()
    assert server.log().splitlines() == [
        f"thriftd: command line: --access-logfile: cannot write {tmp_path}/missing/access.log: "
        f"{tmp_path}/missing: No such file or directory"]
    assert not sock.exists()
    assert not (tmp_path / "missing").exists()


# --- relative paths in the config file ------------------------------------------------


def test_a_config_file_elsewhere_takes_its_relative_paths_from_its_own_directory(
        thriftd, tmp_path, port):
    # As under systemd: the file in one directory, the working directory another.
    conf = tmp_path / "conf"
    conf.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (conf / "libpingpong.so").symlink_to(PINGPONG_SO)
    (conf / "thriftd.yaml").write_text(
        "app: ./libpingpong.so\n"
        f"bind: [\"127.0.0.1:{port}\", \"unix:s.sock\"]\n"
        "pidfile: thriftd.pid\n"
        "accesslog: ./access.log\n")
    printed = run_thriftd("-c", conf / "thriftd.yaml", "--print-config", cwd=elsewhere).stdout
    assert f'app: "{conf}/libpingpong.so"' in printed, printed
    assert f'pidfile: "{conf}/thriftd.pid"' in printed, printed

    server = thriftd("-c", conf / "thriftd.yaml", cwd=elsewhere)
    server.wait_ready(port)
    harness.probe(str(conf / "s.sock"))
    harness.wait_until(lambda: (conf / "thriftd.pid").exists(), 5.0, "the pidfile")
    assert (conf / "thriftd.pid").read_text().strip() == str(server.pid)
    harness.wait_until(lambda: (conf / "access.log").exists() and
                       "ping" in (conf / "access.log").read_text(), 5.0, "an access log line")
    # A HUP reads the file again and finds the same files.
    server.signal("HUP")
    server.wait_for_log(r"Generation 2 is serving")
    harness.probe(port)
    # Nothing but the harness's own capture of stdout and stderr.
    assert {p.name for p in elsewhere.iterdir()} == {
        server.stdout_path.name, server.stderr_path.name}
    server.signal("TERM")
    assert server.wait_exit() == 0
    assert not (conf / "thriftd.pid").exists()
