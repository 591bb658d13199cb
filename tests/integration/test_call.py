"""`thriftd call` against the real thriftd serving the Everything App
(apps/everything.thrift): every Thrift type round-trips from JSON through the
call and back to the same JSON, over every transport x protocol pair thriftd
serves; errors are one line and the documented exit status (0 ok, 1 a
declared exception, 2 usage / IDL / JSON, 3 a TApplicationException, 4 the
transport)."""

import base64
import contextlib
import json
import socket
import subprocess
import threading
import time
import zlib

import pytest

import harness
from harness import EVERYTHING_IDL, EVERYTHING_SO, PAIRS, run_thriftd

EXIT_OK, EXIT_DECLARED, EXIT_USAGE, EXIT_SERVER, EXIT_TRANSPORT = 0, 1, 2, 3, 4

BIG = 2**53 + 1  # a double would round it to 2**53

# Every field of AllTypes, in the JSON thriftd call reads and prints. Sets,
# and maps printed as [[key, value], ...], are in key order: the server's
# std::set and std::map give them back so.
ALL = {
    "flag": True,
    "tiny": -128,
    "small": -32768,
    "medium": 2147483647,
    "large": BIG,
    "real": 3.141592653589793,
    "text": "h\u00e9llo \"w\u00f6rld\"\n\t\\",
    "blob": base64.b64encode(bytes(range(256))).decode(),
    "color": "BLUE",
    "user": -(2**63),
    "point": {"x": 1, "y": -2},
    "path": [{"x": 0, "y": 0}, {"x": 3, "y": 4}],
    "numbers": [3, -1, 0, 3],
    "tags": ["", "a", "b"],
    "counts": {"max": 2**63 - 1, "": 0, "big": BIG},
    "names": [[-5, "minus five"], [1, "one"]],
    "places": [[-1, {"x": 9, "y": 9}], [2**40, {"x": 1, "y": 1}]],
    "nested": [{"k": [{"x": 1, "y": 2}], "empty": []}, {}],
    "colors": ["RED", "GREEN"],
    "weights": {"RED": 0.5, "BLUE": -2.25},
    "blobs": ["", base64.b64encode(b"\x00\xff").decode()],
    "choice": {"point": {"x": 5, "y": 6}},
    "maybe": "here",
    "must": "required",
}


def call(*args, input=None):
    return run_thriftd("call", *[str(a) for a in args], input=input)


def reply(result):
    """The JSON a successful call printed (one line)."""
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def one_error_line(result, status):
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("thriftd call: ")
    return lines[0][len("thriftd call: "):]


@pytest.fixture(scope="module", params=PAIRS, ids=lambda pair: "-".join(pair))
def server(request, tmp_path_factory):
    """One thriftd serving Everything with one (transport, protocol) pair,
    shared by that pair's tests: the arguments that reach it."""
    transport, protocol = request.param
    cwd = tmp_path_factory.mktemp("-".join(request.param))
    port = harness.free_port()
    thriftd = harness.Thriftd(
        [EVERYTHING_SO, "-b", f"127.0.0.1:{port}", "-w", "1",
         "--thrift-transport-factory", transport, "--thrift-protocol-factory", protocol], cwd)
    try:
        thriftd.wait_workers(1)
        flags = ["--thrift-transport-factory", transport, "--thrift-protocol-factory", protocol]
        thriftd.wait(lambda: call(f"127.0.0.1:{port}", "--probe", *flags).returncode == 0,
                     message="thriftd call --probe to answer")
        yield [f"127.0.0.1:{port}", "--idl", EVERYTHING_IDL, *flags]
    finally:
        thriftd.stop()


def test_every_type_round_trips(server):
    assert reply(call(*server, "Everything.echoAll", json.dumps({"value": ALL}))) == ALL


@pytest.mark.parametrize("method, value", [
    ("echoBool", False), ("echoByte", 127), ("echoI16", 32767), ("echoI32", -2147483648),
    ("echoI64", BIG), ("echoI64", 2**63 - 1), ("echoDouble", -0.1), ("echoDouble", 1e308),
    ("echoDouble", "NaN"), ("echoDouble", "-Infinity"), ("echoString", ""),
    ("echoString", "\u2603"), ("echoBinary", base64.b64encode(b"\x00\x01\xfe").decode()),
    ("echoEnum", "GREEN"), ("echoTypedef", -BIG), ("echoUnion", {"text": "t"}),
    ("echoList", [{"x": 1, "y": 2}]), ("echoSet", [-BIG, 0, BIG]),
    ("echoMap", [[-1, "a"], [2, "b"]]), ("echoMap", []),
])
def test_each_type_round_trips(server, method, value):
    assert reply(call(*server, f"Everything.{method}", json.dumps({"value": value}))) == value


def test_enums_by_name_and_number_from_a_thrift_idl(server):
    """Debian's Thrift 0.17 writes enum fields as i32 in its JSON; the enum
    types are restored from its XML (call/enum_types.h), so names work."""
    assert reply(call(*server, "Everything.echoEnum", '{"value": 7}')) == "BLUE"
    assert reply(call(*server, "Everything.echoEnum", '{"value": 5}')) == 5  # no name: a number
    value = dict(ALL, colors=[2, "RED"], weights=[[7, 1.0]])
    echoed = reply(call(*server, "Everything.echoAll", json.dumps({"value": value})))
    assert (echoed["colors"], echoed["weights"]) == (["RED", "GREEN"], {"BLUE": 1.0})  # a set
    line = one_error_line(call(*server, "Everything.echoEnum", '{"value": "PURPLE"}'), EXIT_USAGE)
    assert line == 'argument value: "PURPLE" is not a member of enum Color'


def test_void_oneway_inherited_and_declared_exception(server):
    assert reply(call(*server, "Everything.nothing")) is None
    assert reply(call(*server, "Everything.ping")) == "pong"  # from the included SharedBase
    assert reply(call(*server, "Everything.add", '{"a": 40, "b": 2}')) == 42
    fired = reply(call(*server, "Everything.fired"))
    oneway = call(*server, "Everything.fire", '{"note": "n"}')
    assert (oneway.returncode, oneway.stdout, oneway.stderr) == (0, "", "")
    # A oneway call has no reply: it has arrived once fired() counts it.
    address = server[0]
    harness.wait_until(lambda: reply(call(*server, "Everything.fired")) == fired + 1,
                       message=f"the oneway call to reach {address}")
    thrown = call(*server, "Everything.fail", '{"code": 7, "message": "no"}')
    assert thrown.returncode == EXIT_DECLARED and thrown.stderr == ""
    assert json.loads(thrown.stdout) == {"exception": "Oops", "field": "oops",
                                         "value": {"code": 7, "message": "no"}}


def test_stdin_makes_one_call_a_line(server):
    result = call(*server, "Everything.add", "-d", "@",
                  input='{"a": 1, "b": 2}\n\n{"a": 1}\n{"a": -1, "b": -2}\n')
    assert result.returncode == EXIT_USAGE
    assert [json.loads(line) for line in result.stdout.splitlines()] == [3, -3]
    assert result.stderr == "thriftd call: stdin:3: missing required argument b\n"


def test_verbose_shows_the_bytes_and_the_time(server):
    result = call(*server, "Everything.echoString", '{"value": "look-for-me"}', "--verbose")
    assert result.returncode == EXIT_OK and json.loads(result.stdout) == "look-for-me"
    assert ">> 00000000" in result.stderr and "<< 00000000" in result.stderr
    assert "answered in" in result.stderr
    # The dump is the bytes: the argument's UTF-8 is in what was sent, and
    # the reply's in what came back (inflated first on the zlib transport).
    sent, received = dumped(result.stderr, ">>"), dumped(result.stderr, "<<")
    if "zlib" in server:
        sent, received = zlib.decompressobj().decompress(sent), zlib.decompressobj().decompress(
            received)
    assert b"look-for-me" in sent
    assert b"look-for-me" in received


def dumped(stderr, direction):
    """The bytes of the hex-dump lines ("DIR OFFSET  HEX...  |TEXT|") for one direction."""
    data = bytearray()
    for line in stderr.splitlines():
        parts = line.split("  |")[0].split()
        if len(parts) > 2 and parts[0] == direction and len(parts[1]) == 8:
            data += bytes.fromhex("".join(parts[2:]))
    return bytes(data)


@pytest.mark.parametrize("arguments, message", [
    ('{"a": 1,', "the arguments are not JSON: parse error at line 1, column 9"),
    ('{"a": "x", "b": 1}', 'argument a: expected i32, got "x"'),
    ('{"a": 2147483648, "b": 1}', "argument a: 2147483648 is out of range for i32"),
    ('{"a": 1.5, "b": 1}', "argument a: expected i32, got 1.5"),
    ('{"b": 1}', "missing required argument a"),
    ('{"a": 1, "b": 2, "c": 3}', 'unknown argument "c" of add_args'),
    ('[1, 2]', "the arguments must be a JSON object, got [1,2]"),
])
def test_bad_arguments_are_one_line_and_status_2(server, arguments, message):
    line = one_error_line(call(*server, "Everything.add", arguments), EXIT_USAGE)
    assert line.startswith(message), line


def test_a_wrong_nested_type_names_its_path(server):
    value = dict(ALL, path=[{"x": 1, "y": 2}, {"x": "one", "y": 2}])
    line = one_error_line(call(*server, "Everything.echoAll", json.dumps({"value": value})),
                          EXIT_USAGE)
    assert line == 'argument value.path[1].x: expected i32, got "one"'
    value = {k: v for k, v in ALL.items() if k != "must"}
    line = one_error_line(call(*server, "Everything.echoAll", json.dumps({"value": value})),
                          EXIT_USAGE)
    assert line == "argument value: missing required field must of AllTypes"


def test_unknown_method_is_a_usage_error(server):
    line = one_error_line(call(*server, "Everything.nope"), EXIT_USAGE)
    assert line == "service Everything has no method nope (thriftd call --list)"


def test_unknown_method_on_the_server_is_a_tapplicationexception(server, tmp_path):
    # An IDL newer than the server: the server answers UNKNOWN_METHOD.
    idl = tmp_path / "newer.thrift"
    idl.write_text("service Everything { i32 addedLater() }\n")
    line = one_error_line(call(server[0], "--idl", idl, *server[3:], "Everything.addedLater"),
                          EXIT_SERVER)
    assert line.startswith(f"{server[0]}: addedLater: TApplicationException UNKNOWN_METHOD")


def test_probe_with_a_method(server):
    result = call(*server, "--probe", "Everything.nothing")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --- without a server, or with one shared setup --------------------------------


def test_a_dead_server_is_one_line_and_status_4():
    port = harness.free_port()
    line = one_error_line(call(f"127.0.0.1:{port}", "--idl", EVERYTHING_IDL, "Everything.nothing"),
                          EXIT_TRANSPORT)
    assert line.startswith(f"127.0.0.1:{port}: cannot connect: ")
    assert "refused" in line
    line = one_error_line(call(f"127.0.0.1:{port}", "--probe"), EXIT_TRANSPORT)
    assert line.startswith(f"127.0.0.1:{port}: cannot connect: ")


def test_list_and_describe():
    listing = call("--idl", EVERYTHING_IDL, "--list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == "service Everything extends everything_shared.SharedBase"
    assert "  i32 add(1: required i32 a, 2: required i32 b)" in lines
    assert "  oneway void fire(1: string note)" in lines
    assert "  void fail(1: i32 code, 2: string message) throws (1: Oops oops)" in lines
    assert "service everything_shared.SharedBase" in lines
    described = call("--idl", EVERYTHING_IDL, "--describe", "Everything.echoAll")
    assert described.returncode == 0, described.stderr
    first, _, template = described.stdout.partition("\n")
    assert first == "AllTypes Everything.echoAll(1: AllTypes value)"
    template = json.loads(template)["value"]
    assert set(template) == set(ALL)
    assert template["point"] == {"x": 0, "y": 0} and template["choice"] == {"number": 0}
    assert template["counts"] == {"": 0} and template["names"] == [[0, ""]]


def test_bad_idl_and_missing_compiler(tmp_path):
    idl = tmp_path / "bad.thrift"
    idl.write_text("service Broken {\n  i32 f(1: NoSuchType x)\n}\n")
    line = one_error_line(call("--idl", idl, "--list"), EXIT_USAGE)
    assert line.startswith(f"thrift --gen json {idl}: ") and "NoSuchType" in line
    env = {"PATH": str(tmp_path)}  # no `thrift` there
    result = run_thriftd("call", "--idl", EVERYTHING_IDL, "--list", env=env)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.startswith("thriftd call: the Thrift compiler `thrift` is not on PATH")


def test_json_schema_with_enum_types_reads_and_prints_names(tmp_path, thriftd, port):
    """A .json schema given directly, as newer Thrift compilers write it (an
    enum field's type names its enum; Debian 12's 0.17 writes i32, so this
    schema is that output with the enum fields' types filled in)."""
    subprocess.check_call(["thrift", "-r", "--gen", "json", "-out", str(tmp_path),
                           str(EVERYTHING_IDL)])
    schema_path = tmp_path / "everything.json"
    schema = json.loads(schema_path.read_text())
    color = {"typeId": "enum", "class": "Color"}

    def as_enum(field):
        field.update(typeId="enum", type=dict(color))
    structs = {s["name"]: s for s in schema["structs"]}
    fields = {f["name"]: f for f in structs["AllTypes"]["fields"]}
    as_enum(fields["color"])
    fields["colors"]["type"]["elemTypeId"] = "enum"
    fields["colors"]["type"]["elemType"] = dict(color)
    fields["weights"]["type"]["keyTypeId"] = "enum"
    fields["weights"]["type"]["keyType"] = dict(color)
    functions = {f["name"]: f for f in schema["services"][0]["functions"]}
    as_enum(functions["echoEnum"]["arguments"][0])
    functions["echoEnum"]["returnTypeId"] = "enum"
    functions["echoEnum"]["returnType"] = dict(color)
    schema_path.write_text(json.dumps(schema))

    thriftd(EVERYTHING_SO, "-b", f"127.0.0.1:{port}", "-w", "1").wait_workers(1)
    address = f"127.0.0.1:{port}"
    harness.wait_until(lambda: call(address, "--probe").returncode == 0, message="the probe")
    for given in ("BLUE", 7):
        assert reply(call(address, "--idl", schema_path, "Everything.echoEnum",
                          json.dumps({"value": given}))) == "BLUE"
    value = dict(ALL, color="GREEN", colors=["RED", "GREEN"], weights={"RED": 0.5, "BLUE": -2.25})
    assert reply(call(address, "--idl", schema_path, "Everything.echoAll",
                      json.dumps({"value": value}))) == value
    line = one_error_line(call(address, "--idl", schema_path, "Everything.echoEnum",
                               '{"value": "PURPLE"}'), EXIT_USAGE)
    assert line == 'argument value: "PURPLE" is not a member of enum Color'


def test_multiplexed_and_unix_socket(tmp_path, thriftd):
    socket_path = tmp_path / "everything.sock"
    server = thriftd(EVERYTHING_SO, "-b", f"unix:{socket_path}", "-w", "1",
                     "--app-config", "multiplexed=Things")
    server.wait_workers(1)
    address = f"unix:{socket_path}"
    harness.wait_until(lambda: call(address, "--probe").returncode == 0, message="the probe")
    assert reply(call(address, "--idl", EVERYTHING_IDL, "Things:Everything.add",
                      '{"a": 1, "b": 2}')) == 3
    # --multiplexed names the service by its own name, which this server does not know.
    line = one_error_line(call(address, "--idl", EVERYTHING_IDL, "--multiplexed",
                               "Everything.add", '{"a": 1, "b": 2}'), EXIT_SERVER)
    assert "TApplicationException" in line


def test_timeout():
    # A listener that never answers: the call gives up after --timeout (not the default 10 s).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        start = time.monotonic()
        line = one_error_line(call(address, "--idl", EVERYTHING_IDL, "--timeout", "0.3",
                                   "Everything.nothing"), EXIT_TRANSPORT)
        if not harness.SANITIZED:
            assert time.monotonic() - start < 5
        assert line.startswith(f"{address}: nothing: ") and "timed out" in line, line


def test_a_protocol_the_server_does_not_speak_is_explained(thriftd, port):
    thriftd(EVERYTHING_SO, "-b", f"127.0.0.1:{port}", "-w", "1").wait_workers(1)
    address = f"127.0.0.1:{port}"
    harness.wait_until(lambda: call(address, "--probe").returncode == 0, message="the probe")
    line = one_error_line(call(address, "--idl", EVERYTHING_IDL, "Everything.nothing",
                               "--thrift-transport-factory", "framed"), EXIT_TRANSPORT)
    assert line.endswith("(the server closed the connection: does it serve "
                         "--thrift-transport-factory framed --thrift-protocol-factory binary?)")


def test_zlib_transport_against_a_python_server():
    """Apache Thrift's own Python TZlibTransport serving PingPong, in this
    process, answers thriftd call: interoperation beyond thriftd's zlib."""
    from thrift.transport import TSocket, TZlibTransport
    listener = TSocket.TServerSocket(host="127.0.0.1", port=harness.free_port())
    with harness.python_pingpong_server(listener,
                                        TZlibTransport.TZlibTransportFactory()) as address:
        zlib = ("--thrift-transport-factory", "zlib")
        harness.wait_until(lambda: call(address, "--probe", *zlib).returncode == 0,
                           message="the Python zlib server to answer a probe")
        idl = harness.REPO_DIR / "examples" / "pingpong" / "pingpong.thrift"
        result = call(address, "--idl", idl, *zlib, "PingPong.add", '{"a": 40, "b": 2}')
        assert reply(result) == 42


def test_includes_are_found_through_include_dirs(tmp_path):
    main, shared = tmp_path / "main", tmp_path / "shared"
    main.mkdir()
    shared.mkdir()
    (main / "everything.thrift").write_text(EVERYTHING_IDL.read_text())
    (shared / "everything_shared.thrift").write_text(
        (EVERYTHING_IDL.parent / "everything_shared.thrift").read_text())
    without = call("--idl", main / "everything.thrift", "--list")
    assert without.returncode == EXIT_USAGE and "everything_shared.thrift" in without.stderr
    for flags in (["-I", shared], [f"-I{shared}"], ["--include-dir", shared]):
        listing = call("--idl", main / "everything.thrift", *flags, "--list")
        assert listing.returncode == 0, listing.stderr
        assert "  string ping()" in listing.stdout.splitlines()


# --- replies a hostile or broken server sends ---------------------------------


@contextlib.contextmanager
def one_reply_server(reply_bytes):
    """A TCP listener on 127.0.0.1 that answers one call with `reply_bytes`
    (whatever the call was) and then waits for the client to close; yields
    its address."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer():
            try:
                connection, _ = listener.accept()
            except OSError:  # the shutdown below, when no client came
                return
            with connection:
                connection.recv(65536)  # the call: one small write
                connection.sendall(reply_bytes)
                connection.recv(1)  # until the client closes

        server = threading.Thread(target=answer, daemon=True)
        server.start()
        try:
            yield "127.0.0.1:%d" % listener.getsockname()[1]
        finally:
            listener.shutdown(socket.SHUT_RDWR)  # wakes an accept() still waiting
            server.join(timeout=10)
            assert not server.is_alive()


def binary_reply(name, seqid, body):
    """A strict binary protocol reply message to `name` with `body` (its result struct)."""
    name = name.encode()
    return ((0x80010002).to_bytes(4, "big") + len(name).to_bytes(4, "big") + name +
            seqid.to_bytes(4, "big", signed=True) + body)


def echo_string_reply_claiming_2_gib():
    """A reply to the first call of echoString whose success string claims
    2 GiB, followed by 64 bytes of it."""
    return binary_reply("echoString", 1, bytes([11]) + (0).to_bytes(2, "big") +  # field 0: string
                        (0x7FFFFFFF).to_bytes(4, "big") + b"x" * 64)


def test_a_reply_claiming_a_2_gib_string_is_refused_not_allocated():
    # A hostile (or broken) server: a strict binary reply to echoString whose
    # string claims 2 GiB. The client refuses the length; it does not make
    # room for it first.
    with one_reply_server(echo_string_reply_claiming_2_gib()) as address:
        start = time.monotonic()
        line = one_error_line(call(address, "--idl", EVERYTHING_IDL, "Everything.echoString",
                                   '{"value": "a"}'), EXIT_TRANSPORT)
        assert "does not decode" in line and "size limit" in line.lower(), line
        assert time.monotonic() - start < 10  # no 2 GiB zeroed first


def test_a_header_reply_claiming_a_2_gib_string_is_refused_not_allocated():
    # The same hostile reply inside a header frame: THeaderProtocol makes its
    # inner binary protocol per message, without the client's limit, unless
    # the call client's LimitedHeaderProtocol gives it one.
    payload = echo_string_reply_claiming_2_gib()
    header = b"\x00\x00\x00\x00"  # protocol binary, no transforms, padded to a word
    frame = ((0x0FFF).to_bytes(2, "big") + (0).to_bytes(2, "big") + (1).to_bytes(4, "big") +
             (len(header) // 4).to_bytes(2, "big") + header + payload)
    with one_reply_server(len(frame).to_bytes(4, "big") + frame) as address:
        line = one_error_line(call(address, "--idl", EVERYTHING_IDL, "Everything.echoString",
                                   '{"value": "a"}', "--thrift-transport-factory", "header",
                                   "--thrift-protocol-factory", "header"), EXIT_TRANSPORT)
    assert "does not decode" in line and "size limit" in line.lower(), line


def test_a_reply_with_another_calls_seqid_is_refused():
    reply_to_another = binary_reply("add", 5, bytes([8]) + (0).to_bytes(2, "big") +
                                    (42).to_bytes(4, "big") + b"\x00")
    with one_reply_server(reply_to_another) as address:
        line = one_error_line(call(address, "--idl", EVERYTHING_IDL, "Everything.add",
                                   '{"a": 40, "b": 2}'), EXIT_TRANSPORT)
    assert line == f"{address}: add: the reply's seqid 5 is not the call's 1"


TREE_IDL = "struct Tree { 1: list<Tree> children }\nservice Trees { Tree echo(1: Tree t) }\n"


def test_structs_nested_deeper_than_64_are_refused_both_ways(tmp_path):
    idl = tmp_path / "trees.thrift"
    idl.write_text(TREE_IDL)

    def tree(depth):
        return {"children": [tree(depth - 1)]} if depth > 1 else {}
    # The arguments: refused before anything is sent (no server needed).
    port = harness.free_port()
    line = one_error_line(call(f"127.0.0.1:{port}", "--idl", idl, "Trees.echo",
                               json.dumps({"t": tree(100)})), EXIT_USAGE)
    assert line.startswith("argument t.children[0].children[0]") and \
        line.endswith(": structs nested deeper than 64"), line
    # 60 levels are written (the dry run accepts them; nobody listens).
    line = one_error_line(call(f"127.0.0.1:{port}", "--idl", idl, "Trees.echo",
                               json.dumps({"t": tree(60)})), EXIT_TRANSPORT)
    assert "cannot connect" in line
    # A reply 1000 Trees deep: Tree { 1: list<Tree> [ Tree { ... } ] }.
    level = bytes([15]) + (1).to_bytes(2, "big") + bytes([12]) + (1).to_bytes(4, "big")
    body = bytes([12]) + (0).to_bytes(2, "big") + level * 1000 + b"\x00" * 1001 + b"\x00"
    with one_reply_server(binary_reply("echo", 1, body)) as address:
        line = one_error_line(call(address, "--idl", idl, "Trees.echo", '{"t": {}}'),
                              EXIT_TRANSPORT)
    assert "does not decode" in line and "depth limit" in line.lower(), line


def test_an_idl_with_another_extension_is_read(tmp_path):
    # The compiler names the program after the file up to its last dot.
    idl = tmp_path / "pingpong.idl"
    idl.write_text((harness.REPO_DIR / "examples" / "pingpong" / "pingpong.thrift").read_text())
    listing = call("--idl", idl, "--list")
    assert listing.returncode == 0, listing.stderr
    assert "  i32 add(1: i32 a, 2: i32 b)" in listing.stdout.splitlines()


def test_a_reply_that_cannot_be_written_is_status_5():
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(harness.THRIFTD_BIN), "call", "--idl", EVERYTHING_IDL,
                                 "--list"], stdout=full, stderr=subprocess.PIPE, text=True,
                                timeout=20)
    assert result.returncode == 5
    assert result.stderr == "thriftd call: stdout: No space left on device\n"
