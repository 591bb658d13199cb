"""Several services from one App (examples/services: "kv" and "admin" over one
store): `service` picks one, `multiplexed` serves all of them to Apache
Thrift's TMultiplexedProtocol clients (Python and C++), and the access log
and /metrics name the service and method each call went to. Also: an App
built against ABI version 1's header still loads and serves, and a call
after an exception is not logged under the failed call's name."""

import contextlib
import json

import pytest

import harness
from test_observability import http_get, promtool_check, read_lines, scrape, value, wait_lines

SERVICES_SO = harness.BUILD_DIR / "examples" / "libservices.so"
ABI1_SO = harness.TEST_APPS_DIR / "libabi1_multiplexer_app.so"
APP_NAME = "services_example::ServicesApp"


@contextlib.contextmanager
def multiplexed_clients(address, transport="buffered", protocol="binary"):
    """(kv, admin): KeyValue and Admin clients through TMultiplexedProtocol,
    as "kv" and "admin", on one connection."""
    from admin import Admin
    from keyvalue import KeyValue
    from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
    trans, proto = harness.make_python_protocol(address, transport, protocol)
    trans.open()
    try:
        yield (KeyValue.Client(TMultiplexedProtocol(proto, "kv")),
               Admin.Client(TMultiplexedProtocol(proto, "admin")))
    finally:
        trans.close()


def wait_serving(server, port, **stack):
    """Waits until a multiplexed admin.keyCount() answers on port."""
    def answers():
        try:
            with multiplexed_clients(port, **stack) as (_, admin):
                return admin.keyCount() >= 0
        except Exception:  # not listening yet, or the worker still booting
            return False
    server.wait(answers, 10.0, "a multiplexed admin.keyCount() to answer")


def access_records(path, after):
    """The JSON access log's records from line `after` on."""
    return [json.loads(line) for line in read_lines(path)[after:]]


def named(records):
    return [(r["service"], r["method"], r["outcome"]) for r in records]


def test_multiplexed_python_and_cpp_clients_reach_each_service_by_name(thriftd, tmp_path,
                                                                       port, kind_args):
    metrics_port = harness.free_port()
    access = tmp_path / "access.log"
    stack = {"transport": "framed", "protocol": "compact"}
    server = thriftd(SERVICES_SO, "--multiplexed", "-b", f"127.0.0.1:{port}", *kind_args,
                     "--thrift-transport-factory", "framed", "--thrift-protocol-factory", "compact",
                     "--access-logfile", access.name, "--access-logformat", "json",
                     "--metrics-bind", f"127.0.0.1:{metrics_port}")
    wait_serving(server, port, **stack)
    start = len(wait_lines(server, access, 1))

    from admin.ttypes import Refused
    from keyvalue.ttypes import NotFoundError
    with multiplexed_clients(port, **stack) as (kv, admin):
        kv.setValue("locked", "yes")
        assert kv.getValue("locked") == "yes"
        with pytest.raises(NotFoundError):
            kv.getValue("missing")
        assert admin.keyCount() == 1  # the two services share the worker's store
        with pytest.raises(Refused):
            admin.clear()
    lines = harness.cpp_client(port, "framed", "compact", "--multiplexed",
                               "set", "a", "1", "get", "a", "get", "b", "count", "clear", "count")
    # One worker, one store: the Python client's key is still there.
    assert lines[:4] == ["ok", "1", "NotFoundError b", "2"], lines
    assert lines[4].startswith("Refused "), lines
    assert lines[5:] == ["2"], lines

    wait_lines(server, access, start + 11)
    records = access_records(access, start)
    assert named(records) == [
        ("kv", "setValue", "ok"), ("kv", "getValue", "ok"),
        ("kv", "getValue", "declared_exception"), ("admin", "keyCount", "ok"),
        ("admin", "clear", "declared_exception"),
        ("kv", "setValue", "ok"), ("kv", "getValue", "ok"),
        ("kv", "getValue", "declared_exception"), ("admin", "keyCount", "ok"),
        ("admin", "clear", "declared_exception"), ("admin", "keyCount", "ok"),
    ], records
    samples = scrape(metrics_port)
    assert value(samples, "thriftd_requests_total", service="kv", method="KeyValue.getValue",
                 outcome="declared_exception") == 2
    assert value(samples, "thriftd_requests_total", service="kv", method="KeyValue.setValue",
                 outcome="ok") == 2
    assert value(samples, "thriftd_requests_total", service="admin", method="Admin.clear",
                 outcome="declared_exception") == 2
    assert value(samples, "thriftd_request_duration_seconds_count", service="admin",
                 method="Admin.keyCount") >= 3
    promtool_check(http_get(metrics_port, "/metrics")[1])


def raw_call(proto, name, seqid=7):
    """Sends a call named `name` with no arguments on proto and reads the
    reply: a TApplicationException for the names used here."""
    from thrift.Thrift import TApplicationException, TMessageType
    proto.writeMessageBegin(name, TMessageType.CALL, seqid)
    proto.writeStructBegin("args")
    proto.writeFieldStop()
    proto.writeStructEnd()
    proto.writeMessageEnd()
    proto.trans.flush()
    _, kind, _ = proto.readMessageBegin()
    assert kind == TMessageType.EXCEPTION
    error = TApplicationException()
    error.read(proto)
    proto.readMessageEnd()
    return error


def test_an_unknown_service_is_answered_and_the_connection_serves_on(thriftd, port):
    server = thriftd(SERVICES_SO, "--multiplexed", "-b", f"127.0.0.1:{port}")
    wait_serving(server, port)
    from keyvalue import KeyValue
    from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
    trans, proto = harness.make_python_protocol(port)
    trans.open()
    try:
        error = raw_call(proto, "nope:getValue")
        assert error.message == "Unknown service: 'nope'", error
        # A client that names no service, on a listener without a default one.
        error = raw_call(proto, "keyCount")
        assert "this listener is multiplexed" in error.message, error
        kv = KeyValue.Client(TMultiplexedProtocol(proto, "kv"))
        kv.setValue("still", "open")
        assert kv.getValue("still") == "open"
    finally:
        trans.close()


def test_service_serves_one_named_service_to_plain_clients(thriftd, tmp_path, port):
    access = tmp_path / "access.log"
    # The namespaced class by name (THRIFTD_APP(services_example::ServicesApp)).
    server = thriftd(f"{SERVICES_SO}:{APP_NAME}", "--service", "admin", "-b", f"127.0.0.1:{port}",
                     "--access-logfile", access.name)
    from admin import Admin
    from thrift.Thrift import TApplicationException
    trans, proto = harness.make_python_protocol(port)
    server.wait(lambda: harness.is_live(server.pid) and _answers(port), 10.0,
                "a plain Admin.keyCount() to answer")
    trans.open()
    try:
        assert Admin.Client(proto).keyCount() == 0
        # KeyValue's methods are not Admin's: the admin service says so.
        error = raw_call(proto, "getValue")
        assert error.type == TApplicationException.UNKNOWN_METHOD, error
    finally:
        trans.close()
    assert harness.cpp_client(port, "buffered", "binary", "count", "clear") == ["0", "ok"]
    lines = wait_lines(server, access, 5)
    assert all('"admin.' in line for line in lines), lines
    assert '"admin.getValue" 7 application_exception' in "\n".join(lines), lines


def _answers(port):
    from admin import Admin
    try:
        trans, proto = harness.make_python_protocol(port, timeout=1.0)
        trans.open()
        try:
            return Admin.Client(proto).keyCount() >= 0
        finally:
            trans.close()
    except Exception:  # not listening yet
        return False


@pytest.mark.parametrize("check", [True, False], ids=["check-config", "start"])
def test_an_unknown_service_name_is_a_boot_error_naming_the_apps_services(thriftd, tmp_path,
                                                                         port, check):
    expected = (f'App {APP_NAME} has no service "nosuch" (its services: admin, kv)')
    args = [SERVICES_SO, "--service", "nosuch", "-b", f"127.0.0.1:{port}"]
    if check:
        result = harness.run_thriftd("--check-config", *args, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert expected in result.stderr, result.stderr
        return
    server = thriftd(*args)
    assert server.wait_exit() == 1, server.log()
    assert expected in server.log(), server.log()


def test_an_app_without_a_default_service_says_how_to_choose(tmp_path, port):
    result = harness.run_thriftd("--check-config", SERVICES_SO, "-b", f"127.0.0.1:{port}",
                                 cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert (f"App {APP_NAME} has no default service: set service to one of admin, kv, "
            "or multiplexed") in result.stderr, result.stderr


def test_an_abi1_app_loads_and_serves(thriftd, tmp_path, port, kind_args):
    """Built against tests/abi/v1's header: plain clients reach its default
    processor, multiplexed ones its own TMultiplexedProcessor's services."""
    server = thriftd(ABI1_SO, "-b", f"127.0.0.1:{port}", *kind_args)
    server.wait_ready(port)
    assert harness.cpp_client(port, "buffered", "binary", "ping", "add", 2, 40) == ["pong", "42"]
    assert harness.cpp_client(port, "buffered", "binary", "--multiplexed",
                              "set", "k", "v", "get", "k", "ping") == ["ok", "v", "pong"]


def test_regression_a_call_after_an_exception_is_not_logged_under_the_failed_name(
        thriftd, tmp_path, port):
    """An App with its own TMultiplexedProcessor: thriftd does not see its
    calls reach a method, and logged each under the name of the last
    exception reply on the connection ("-.nosuch" for the pings after an
    unknown method)."""
    access = tmp_path / "access.log"
    server = thriftd(ABI1_SO, "-b", f"127.0.0.1:{port}", "--access-logfile", access.name,
                     "--access-logformat", "json")
    server.wait_ready(port)
    start = len(wait_lines(server, access, 1))
    from pingpong import PingPong
    from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
    trans, proto = harness.make_python_protocol(port)
    trans.open()
    try:
        pingpong = PingPong.Client(TMultiplexedProtocol(proto, "pingpong"))
        assert pingpong.ping() == "pong"
        assert "nosuch" in raw_call(TMultiplexedProtocol(proto, "pingpong"), "nosuch").message
        assert pingpong.ping() == "pong"
        assert pingpong.add(1, 2) == 3
    finally:
        trans.close()
    wait_lines(server, access, start + 4)
    assert [(r["method"], r["outcome"]) for r in access_records(access, start)] == [
        ("ping", "ok"), ("nosuch", "application_exception"), ("ping", "ok"), ("add", "ok")]


@contextlib.contextmanager
def multiplexed_blocker(port, timeout):
    """The Blocker App's service through TMultiplexedProtocol, as "slow"."""
    from blocker import Blocker
    from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
    trans, proto = harness.make_python_protocol(port, timeout=timeout)
    trans.open()
    try:
        yield Blocker.Client(TMultiplexedProtocol(proto, "slow"))
    finally:
        trans.close()


def test_the_fiber_watchdog_names_a_multiplexed_calls_service_and_method(thriftd, port):
    server = thriftd(harness.BLOCKER_SO, "--multiplexed", "-k", "fiber",
                     "--fiber-check-interval", "0.2", "-b", f"127.0.0.1:{port}")
    server.wait_ready(port, service="blocker")  # plain clients reach the default service
    mark = server.log_mark()
    with multiplexed_blocker(port, timeout=10.0) as client:
        client.block(600)  # blocks the loop
        assert client.ping() == "pong"
    warnings = [line for line in server.log()[mark:].splitlines()
                if "blocked the event loop" in line]
    assert len(warnings) == 1, server.log()
    assert "slow:Blocker.block" in warnings[0], warnings[0]


def test_the_hang_report_names_a_multiplexed_calls_service_and_method(thriftd, port):
    server = thriftd(harness.BLOCKER_SO, "--multiplexed", "-t", "1", "-b", f"127.0.0.1:{port}")
    (worker,) = server.wait_ready(port, service="blocker")
    from concurrent.futures import ThreadPoolExecutor

    from thrift.transport.TTransport import TTransportException
    with ThreadPoolExecutor(1) as pool, multiplexed_blocker(port, timeout=30.0) as client:
        call = pool.submit(client.block, 20000)
        server.wait_for_log(
            rf"^\[[^\]]+\] \[{worker}\] \[CRITICAL\] WORKER TIMEOUT: stuck in slow:Blocker\.block\b",
            deadline=15.0)
        with pytest.raises(TTransportException):
            call.result(timeout=15)


def test_a_config_file_multiplexes_and_names_the_service_for_plain_clients(thriftd, tmp_path,
                                                                          port):
    config = tmp_path / "thriftd.yaml"
    config.write_text(f"app: {SERVICES_SO}\nbind: 127.0.0.1:{port}\n"
                      "multiplexed: true\nservice: kv\n")
    server = thriftd("-c", config)
    server.wait_ready(port, service="keyvalue")  # a plain client reaches kv
    with harness.py_client(port, "keyvalue") as kv:
        kv.setValue("plain", "1")
    with multiplexed_clients(port) as (kv, admin):
        assert kv.getValue("plain") == "1"
        assert admin.keyCount() == 1
