"""Per-listener service and TLS (issue 12): a bind entry picks the service it
serves and its own certificate, or none, beside listeners that keep the
global settings; one pool of workers serves them all."""

import pytest
from thrift.transport.TTransport import TTransportException

import harness
from harness import PINGPONG_SO, TlsFiles, py_client, run_thriftd
from test_observability import wait_lines
from test_services import SERVICES_SO

EXIT_CONFIG_ERROR = 2


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TlsFiles(tmp_path_factory.mktemp("tls"))


def test_each_listener_serves_the_service_its_entry_names(thriftd, tmp_path, port, kind_args):
    admin_sock = tmp_path / "admin.sock"
    access = tmp_path / "access.log"
    server = thriftd(SERVICES_SO, *kind_args, "-b", f"127.0.0.1:{port},service=kv",
                     "-b", f"unix:{admin_sock},service=admin", "--access-logfile", access,
                     "--access-logformat", "{service}.{method} {outcome}")
    server.wait_ready(port, service="keyvalue")
    with py_client(port, "keyvalue") as kv:
        kv.setValue("probe", "1")
        assert kv.getValue("probe") == "1"
    # One worker, one store: the admin service sees the key kv set.
    with py_client(admin_sock, "admin") as admin:
        assert admin.keyCount() == 1
    assert harness.cpp_client(admin_sock, "buffered", "binary", "clear", "count") == ["ok", "0"]
    assert harness.cpp_client(port, "buffered", "binary", "set", "k", "v", "get", "k") == \
        ["ok", "v"]
    # Each listener answers only its own service's methods.
    result = harness.run_cpp_client(admin_sock, "buffered", "binary", "get", "k")
    assert result.returncode == harness.CPP_CLIENT_ERROR, result.stderr
    lines = wait_lines(server, access, 8)
    for expected in ("kv.setValue ok", "kv.getValue ok", "admin.keyCount ok", "admin.clear ok",
                     "admin.getValue application_exception"):
        assert expected in lines, lines


def test_a_listener_names_a_service_the_app_lacks_at_check_and_at_start(tmp_path, port):
    for check in (["--check-config"], []):
        result = run_thriftd(*check, SERVICES_SO, "-b", f"127.0.0.1:{port},service=kv", "-b",
                             f"unix:{tmp_path / 'x.sock'},service=nosuch", cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert (f"listener unix:{tmp_path / 'x.sock'}: App services_example::ServicesApp has no "
                'service "nosuch" (its services: admin, kv)') in result.stderr, result.stderr


def test_one_listener_over_tls_beside_a_plain_one(thriftd, tmp_path, tls, port, kind_args):
    plain = harness.free_port()
    server = thriftd(PINGPONG_SO, *kind_args, "-b",
                     f"127.0.0.1:{port},certfile={tls.server_cert},keyfile={tls.server_key}",
                     "-b", f"127.0.0.1:{plain}")
    server.wait_ready(port, tls=tls.client())
    server.wait_ready(plain)
    with py_client(port, tls=tls.client()) as client:
        assert client.add(40, 2) == 42
    assert harness.cpp_client(port, "buffered", "binary", "ping", tls=tls.client()) == ["pong"]
    with py_client(plain) as client:
        assert client.ping() == "pong"
    # The TLS listener speaks no plain Thrift; the plain one no TLS.
    with pytest.raises(TTransportException):
        harness.probe(port, timeout=2.0)
    assert harness.run_cpp_client(plain, "buffered", "binary", "ping", timeout_ms=2000,
                                  tls=tls.client()).returncode == harness.CPP_CLIENT_ERROR


def test_tls_files_in_a_yaml_bind_entry_are_found_from_the_config_files_directory(
        thriftd, tmp_path, tls, port):
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("server.pem", "server.key"):
        (etc / name).write_bytes((tls.dir / name).read_bytes())
    config = etc / "thriftd.yaml"
    config.write_text(f"app: {PINGPONG_SO}\n"
                      "bind:\n"
                      f"  - {{address: \"127.0.0.1:{port}\", certfile: server.pem, "
                      "keyfile: server.key}\n")
    # Started elsewhere: the relative names are the config file's neighbours.
    server = thriftd("-c", config, cwd=tmp_path)
    server.wait_ready(port, tls=tls.client())
    printed = run_thriftd("-c", config, "--print-config", cwd=tmp_path)
    assert f'certfile: "{etc / "server.pem"}"' in printed.stdout, printed.stdout


def test_a_bad_listener_certificate_is_one_line_naming_the_entry(tmp_path, tls, port):
    missing = tmp_path / "missing.pem"
    for check in (["--check-config"], []):
        result = run_thriftd(*check, PINGPONG_SO, "-b", f"127.0.0.1:{port},certfile={missing}",
                             cwd=tmp_path)
        assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"thriftd: command line: --bind: 127.0.0.1:{port}: certfile: "), \
            lines
        assert str(missing) in lines[0]


def test_a_unix_entry_with_its_own_certfile_is_refused(tmp_path, tls):
    sock = tmp_path / "x.sock"
    result = run_thriftd("--check-config", PINGPONG_SO, "-b",
                         f"unix:{sock},certfile={tls.server_cert},keyfile={tls.server_key}",
                         cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr == (f"thriftd: command line: --bind: unix:{sock}: certfile: TLS is for "
                             "TCP listeners; a unix socket is served plain\n")
