"""Schema discovery: an App embeds its IDL (THRIFTD_SCHEMA, include/thriftd/
schema.h; the Everything App's build does, with `thriftd call --emit-schema
cc`), thriftd serves it at /schema on the metrics endpoint, and `thriftd
call --schema-from` (or THRIFTD_SCHEMA_FROM) calls with it, no --idl."""

import http.client
import http.server
import json
import os
import shutil
import signal
import threading

import pytest

import harness
from harness import EVERYTHING_IDL, EVERYTHING_SO, PINGPONG_SO, run_thriftd

EXIT_USAGE = 2


def request(port, method="GET", path="/schema"):
    """(status, content type, content length header, body) of one request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        reply = connection.getresponse()
        return (reply.status, reply.getheader("Content-Type"), reply.getheader("Content-Length"),
                reply.read().decode())
    finally:
        connection.close()


def serve(thriftd, app, port, metrics_port, *args):
    server = thriftd(app, "-b", f"127.0.0.1:{port}", "-w", "1", "--metrics-bind",
                     f"127.0.0.1:{metrics_port}", *args)
    server.wait_workers(1)
    server.wait_for_log(r"Serving metrics at")
    harness.wait_until(lambda: run_thriftd("call", f"127.0.0.1:{port}", "--probe").returncode == 0,
                       message="the probe")
    return server


def emitted_schema():
    result = run_thriftd("call", "--idl", EVERYTHING_IDL, "--emit-schema", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_embedded_schema_is_served_and_called_with(thriftd, port):
    metrics_port = harness.free_port()
    serve(thriftd, EVERYTHING_SO, port, metrics_port)
    status, content_type, length, body = request(metrics_port)
    assert (status, content_type) == (200, "application/json")
    served = json.loads(body)
    # What the build embedded is what --emit-schema writes: the main program
    # first, then the one it includes.
    assert served == emitted_schema()
    assert [p["name"] for p in served["programs"]] == ["everything", "everything_shared"]
    assert request(metrics_port, "HEAD") == (200, "application/json", length, "")
    assert request(metrics_port, "POST")[0] == 405

    address = f"127.0.0.1:{port}"
    for source in (f"127.0.0.1:{metrics_port}", f"http://127.0.0.1:{metrics_port}/"):
        result = run_thriftd("call", address, "--schema-from", source, "Everything.add",
                             '{"a": 40, "b": 2}')
        assert (result.returncode, result.stdout, result.stderr) == (0, "42\n", "")
    env = {"THRIFTD_SCHEMA_FROM": f"127.0.0.1:{metrics_port}"}
    result = run_thriftd("call", address, "Everything.echoEnum", '{"value": "GREEN"}', env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, '"GREEN"\n', "")
    # --idl is preferred to the environment's default.
    result = run_thriftd("call", address, "--idl", EVERYTHING_IDL, "Everything.ping", env=env)
    assert (result.returncode, result.stdout) == (0, '"pong"\n'), result.stderr
    listed = run_thriftd("call", "--list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == run_thriftd("call", "--idl", EVERYTHING_IDL, "--list").stdout


def test_an_app_without_a_schema_is_a_404_that_call_explains(thriftd, port):
    metrics_port = harness.free_port()
    serve(thriftd, PINGPONG_SO, port, metrics_port)
    reason = f"the App {PINGPONG_SO} embeds no schema (THRIFTD_SCHEMA, include/thriftd/schema.h)"
    assert request(metrics_port) == (404, "text/plain; charset=utf-8", str(len(reason) + 1),
                                     reason + "\n")
    result = run_thriftd("call", f"127.0.0.1:{port}", "--schema-from",
                         f"127.0.0.1:{metrics_port}", "PingPong.ping")
    assert result.returncode == EXIT_USAGE
    assert result.stderr == (f"thriftd call: http://127.0.0.1:{metrics_port}/schema: no schema "
                             f"there ({reason})\n")


def test_a_broken_embedded_schema_is_a_404_that_says_so(thriftd, port, tmp_path):
    # The Everything App with its bundle's version changed (1 -> 2): it
    # still serves, and /schema's 404 tells the read error, not "no schema".
    app = tmp_path / "libbroken.so"
    data = EVERYTHING_SO.read_bytes()
    assert data.count(b'"thriftdSchema":1}') == 1
    app.write_bytes(data.replace(b'"thriftdSchema":1}', b'"thriftdSchema":2}'))
    metrics_port = harness.free_port()
    serve(thriftd, app, port, metrics_port)
    reason = (f"cannot serve the App's schema: {app}: section .thriftd_schema: not a thriftd "
              "schema bundle of version 1")
    assert request(metrics_port) == (404, "text/plain; charset=utf-8", str(len(reason) + 1),
                                     reason + "\n")


def test_hup_serves_the_schema_of_the_replaced_app(thriftd, port, tmp_path):
    app = tmp_path / "libapp.so"
    shutil.copy(PINGPONG_SO, app)
    metrics_port = harness.free_port()
    server = serve(thriftd, app, port, metrics_port)
    assert request(metrics_port)[0] == 404
    replacement = tmp_path / "libapp.so.new"
    shutil.copy(EVERYTHING_SO, replacement)
    os.rename(replacement, app)
    server.signal(signal.SIGHUP)
    harness.wait_until(lambda: request(metrics_port)[0] == 200,
                       message="/schema to serve the replaced App's schema")
    assert json.loads(request(metrics_port)[3]) == emitted_schema()


def test_without_idl_or_schema_from_a_call_says_how(tmp_path):
    result = run_thriftd("call", "127.0.0.1:1", "Everything.nothing")
    assert result.returncode == EXIT_USAGE
    assert result.stderr == (
        "thriftd call: a call needs --idl FILE (the service's .thrift, or its .json schema) or "
        "--schema-from HOST:PORT (a thriftd's metrics endpoint serving the App's schema; or "
        "THRIFTD_SCHEMA_FROM)\n")
    result = run_thriftd("call", "--idl", EVERYTHING_IDL, "--schema-from", "127.0.0.1:1",
                         "--list")
    assert result.stderr == "thriftd call: --idl and --schema-from exclude each other\n"
    port = harness.free_port()
    result = run_thriftd("call", "--schema-from", f"127.0.0.1:{port}", "--list")
    assert result.returncode == EXIT_USAGE
    assert result.stderr.startswith(
        f"thriftd call: cannot fetch the schema from http://127.0.0.1:{port}/schema: ")


@pytest.fixture
def other_http_server():
    """The port of an HTTP server on 127.0.0.1 that is not a thriftd: every
    GET is a 200 with a page that is no schema (--schema-from given the
    wrong port)."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>some other service</html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_schema_from_names_the_url_it_fetched_however_it_was_spelled(other_http_server):
    port = other_http_server
    for source in (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}/"):
        result = run_thriftd("call", "--schema-from", source, "--list")
        assert result.returncode == EXIT_USAGE
        assert result.stderr.startswith(
            f"thriftd call: http://127.0.0.1:{port}/schema: not a Thrift JSON schema: "), \
            result.stderr


def test_schema_from_given_the_thrift_port_says_which_port_it_wants(thriftd, port):
    metrics_port = harness.free_port()
    serve(thriftd, EVERYTHING_SO, port, metrics_port)
    result = run_thriftd("call", f"127.0.0.1:{port}", "--schema-from", f"127.0.0.1:{port}",
                         "--list")
    assert result.returncode == EXIT_USAGE
    assert result.stderr == (f"thriftd call: http://127.0.0.1:{port}/schema: the server answered "
                             "nothing (--schema-from names the metrics endpoint, --metrics-bind, "
                             "not the Thrift port)\n")


def test_schema_from_is_one_host_and_port_not_a_range(other_http_server):
    # A range's first port is listening; a bind's range is still no place
    # to fetch from, and neither is port 0 or a missing host.
    port = other_http_server
    for source in (f"127.0.0.1:{port}-{port}", "127.0.0.1:0", f":{port}",
                   "unix:/run/metrics.sock"):
        result = run_thriftd("call", "--schema-from", source, "--list")
        assert result.returncode == EXIT_USAGE
        assert result.stderr == (f"thriftd call: --schema-from {source}: expected the metrics "
                                 "endpoint's HOST:PORT (its --metrics-bind)\n")


def test_an_emitted_schema_is_an_idl_and_a_source(tmp_path):
    schema = tmp_path / "everything.json"
    result = run_thriftd("call", "--idl", EVERYTHING_IDL, "--emit-schema", "json", "-o", schema)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert run_thriftd("call", "--idl", schema, "--list").stdout == \
        run_thriftd("call", "--idl", EVERYTHING_IDL, "--list").stdout
    source = run_thriftd("call", "--idl", schema, "--emit-schema", "cc")
    assert source.returncode == 0
    assert "#include <thriftd/schema.h>\nTHRIFTD_SCHEMA(R\"thriftd_schema({" in source.stdout
    result = run_thriftd("call", "--idl", EVERYTHING_IDL, "--emit-schema", "json", "-o",
                         tmp_path / "no-such-dir" / "x.json")
    assert result.returncode == 5
    assert result.stderr.startswith(f"thriftd call: -o {tmp_path}/no-such-dir/x.json")
