#!/usr/bin/env python3
"""Writes the committed seed corpora of tests/fuzz/corpus/: calls as Apache
Thrift's Python library writes them (every transport and protocol thriftd
serves), the hostile inputs of tests/integration/test_bad_input.py, configs,
command lines, bind addresses and access-log templates. Run it after
changing a target's input format:

    /usr/bin/python3 tests/fuzz/make_seeds.py

It replaces only the seeds it writes (seed-*); inputs added by hand or by a
fuzzing session (named by their hash) stay."""

import hashlib
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"

# The selector byte of the connection targets (connection_driver.h) and of
# message_scanner (message_scanner.cc).
PROTOCOLS = ["binary", "compact", "json", "header"]
FRAMINGS = ["buffered", "framed", "header"]
# The connection targets' transports: the scanner's framings, and zlib.
TRANSPORTS = FRAMINGS + ["zlib"]
ENCODINGS = ["binary", "compact", "json"]


def generated_pingpong():
    """The Python PingPong client, generated from the example's IDL."""
    out = tempfile.mkdtemp(prefix="thriftd-seeds.")
    subprocess.run(["thrift", "--gen", "py", "-out", out,
                    str(ROOT / "examples/pingpong/pingpong.thrift")], check=True)
    sys.path.insert(0, out)
    from pingpong import PingPong  # noqa: E402
    return out, PingPong


def encode(PingPong, transport, protocol, calls, zlib_transform=False):
    """The bytes a client writes for `calls` (method name, args) in order;
    header frames with the zlib transform when asked."""
    from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol, TJSONProtocol
    from thrift.transport import THeaderTransport, TTransport, TZlibTransport

    memory = TTransport.TMemoryBuffer()
    headers_only = [THeaderTransport.THeaderClientType.HEADERS]
    if protocol == "header":
        # Over framed, each header frame inside a framed frame (as Apache
        # Thrift's test/py/TestClient.py writes it).
        below = TTransport.TFramedTransport(memory) if transport == "framed" else memory
        proto = THeaderProtocol.THeaderProtocol(below, headers_only)
        trans = proto.trans
    else:
        if transport == "buffered":
            trans = TTransport.TBufferedTransport(memory)
        elif transport == "zlib":
            trans = TZlibTransport.TZlibTransport(TTransport.TBufferedTransport(memory))
        elif transport == "framed":
            trans = TTransport.TFramedTransport(memory)
        else:
            sub = (THeaderTransport.THeaderSubprotocolID.COMPACT if protocol == "compact"
                   else THeaderTransport.THeaderSubprotocolID.BINARY)
            trans = THeaderTransport.THeaderTransport(memory, headers_only, sub)
        proto = {"binary": lambda t: TBinaryProtocol.TBinaryProtocol(t, True, True),
                 "compact": TCompactProtocol.TCompactProtocol,
                 "json": TJSONProtocol.TJSONProtocol}[protocol](trans)
    if zlib_transform:
        trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
    client = PingPong.Client(proto)
    for name, args in calls:
        getattr(client, "send_" + name)(*args)  # each send flushes its message
    return memory.getvalue()


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ("seed-" + name)).write_bytes(data)


def wire_seeds(PingPong):
    calls = {
        "ping": [("ping", ())],
        "add": [("add", (2, 3))],
        "echo": [("echo", (b"hello, thriftd",))],
        "pipelined": [("ping", ()), ("add", (-1, 1)), ("echo", (b"\x00\xff",)), ("sleep", (0,))],
    }
    for transport in TRANSPORTS:
        protocols = PROTOCOLS if transport in ("framed", "header") else PROTOCOLS[:3]
        for p_index, protocol in enumerate(protocols):
            for name, sequence in calls.items():
                data = encode(PingPong, transport, protocol, sequence)
                # Whole, and (for the pipelined calls) a byte at a time.
                pieces = [0, 1] if name == "pipelined" else [0]
                for piece in pieces:
                    selector = p_index + len(protocols) * piece
                    suffix = "" if piece == 0 else "-bytewise"
                    write("connection_" + transport, f"{protocol}-{name}{suffix}",
                          bytes([selector]) + data)
                if transport == "zlib":
                    continue  # the scanner sees only inflated bytes
                if protocol in ENCODINGS:
                    selector = FRAMINGS.index(transport) + 3 * ENCODINGS.index(protocol)
                    write("message_scanner", f"{transport}-{protocol}-{name}",
                          bytes([selector]) + data)
                elif transport == "framed":  # selector 0x80: header frames in framed frames
                    write("message_scanner", f"framed-header-{name}", bytes([0x80]) + data)
    # Header frames with the zlib transform (thriftd inflates them before
    # Thrift reads them): the header transport's, and the header protocol's
    # inside framed frames.
    for transport, protocols in (("header", ["binary", "compact"]), ("framed", ["header"])):
        for protocol in protocols:
            for name, sequence in calls.items():
                data = encode(PingPong, transport, protocol, sequence, zlib_transform=True)
                write("connection_" + transport, f"{protocol}-{name}-zlib-transform",
                      bytes([PROTOCOLS.index(protocol)]) + data)


def hostile_seeds():
    """What tests/integration/test_bad_input.py sends, for each transport."""
    ping = struct.pack(">iI", -2147418111, 4) + b"ping" + struct.pack(">i", 1)  # 0x80010001
    string_2g = (struct.pack(">iI", -2147418111, 4) + b"echo" + struct.pack(">i", 1) +
                 bytes([11]) + struct.pack(">hI", 1, 0x7fffffff) + b"abc")
    nested = (struct.pack(">iI", -2147418111, 4) + b"nest" + struct.pack(">i", 1) +
              (bytes([15]) + struct.pack(">h", 1) + bytes([15]) + struct.pack(">i", 1)) * 80)
    inputs = {
        "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "garbage": bytes(range(256)),
        "frame-2g": struct.pack(">I", 0x7fffffff) + ping,
        "frame-4g": struct.pack(">I", 0xffffffff) + ping,
        "string-2g": string_2g,
        "string-2g-framed": struct.pack(">I", len(string_2g)) + string_2g,
        "nested": nested,
        "nested-framed": struct.pack(">I", len(nested)) + nested,
        "empty-frame": struct.pack(">I", 0),
    }
    for transport in FRAMINGS:
        for name, data in inputs.items():
            write("connection_" + transport, "hostile-" + name, bytes([0]) + data)
        for name, data in inputs.items():
            write("message_scanner", f"{transport}-hostile-{name}",
                  bytes([FRAMINGS.index(transport)]) + data)
    # The zlib transport: a stream inflating past the message limit, and
    # bytes that are no zlib stream.
    import zlib
    fields = ping + b"\x08\x00\x01\x00\x00\x00\x00" * (1 << 17)
    bomb = zlib.compressobj(9)
    write("connection_zlib", "hostile-bomb",
          bytes([0]) + bomb.compress(fields) + bomb.flush(zlib.Z_SYNC_FLUSH))
    write("connection_zlib", "hostile-http", bytes([0]) + inputs["http"])
    # The header protocol over framed: an 8-byte frame whose header frame
    # claims 1 GiB (THeaderTransport allocates what it claims).
    inner_1g = struct.pack(">II", 8, 0x3FFFFFF0) + struct.pack(">I", 0x0FFF0000)
    write("connection_framed", "hostile-header-inner-1g", bytes([3]) + inner_1g)
    write("message_scanner", "framed-header-hostile-inner-1g", bytes([0x80]) + inner_1g)


def text_seeds():
    configs = {
        "minimal": "app: ./libpingpong.so\nbind: 127.0.0.1:9090\n",
        "full": """app: /usr/lib/libkeyvalue.so:kv
bind:
  - 127.0.0.1:9090
  - "[::1]:9091"
  - unix:/run/thriftd.sock
workers: 4
worker_class: fiber
worker_connections: 1000
timeout: 30
graceful_timeout: 2.5
max_requests: 1000
max_requests_jitter: 50
thrift_transport_factory: header
thrift_protocol_factory: header
thrift_client_timeout: 60
thrift_max_frame_size: 1048576
thrift_max_message_size: 1048576
app_config:
  db: postgres://localhost/x
  mode: fast
access_log_format: "{peer} {method} {outcome} {duration_us}"
loglevel: debug
umask: 0o22
metrics_bind: 127.0.0.1:9100
""",
        "unknown-key": "wrokers: 3\n",
        "bad-type": "workers: [1, 2]\n",
        "malformed": "bind: [127.0.0.1:9090\n",
        "anchors": "a: &x {b: *x}\n",
        "not-a-map": "- 1\n- 2\n",
        "bind-entries": "bind:\n  - 127.0.0.1:9000-9100\n"
                        "  - {address: unix:x.sock, thrift_protocol_factory: compact}\n"
                        "  - {thrift_transport_factory: framed}\n",
    }
    for name, text in configs.items():
        write("yaml_config", name + ".yaml", text.encode())

    command_lines = {
        "app-and-bind": ["./libpingpong.so", "-b", "127.0.0.1:9090", "-w", "2", ""],
        "long-options": ["--workers=3", "--worker-class", "thread", "--threads", "8",
                         "--thrift-transport-factory", "framed", "--app-config", "k=v",
                         "app.so:Name", ""],
        "env-only": ["app.so", "-b :9090 --workers 2 --app-config 'a=b c'"],
        "env-and-args": ["-w", "3", "app.so", "--preload --bind unix:/tmp/x.sock"],
        "unknown-option": ["--wrokers", "2", ""],
        "missing-value": ["app.so", "--timeout", ""],
        "bad-quote": ["app.so", "--bind 'unclosed"],
        "config-missing": ["-c", "absent.yaml", "app.so", ""],
        "bind-entry": ["-b", "unix:x.sock,thrift_protocol_factory=json,thrift_transport_factory=",
                       "app.so", ""],
    }
    for name, words in command_lines.items():
        write("command_line", name, b"\0".join(w.encode() for w in words))

    binds = ["127.0.0.1:9090", ":9090", "[::1]:9090", "[fe80::1%eth0]:1", "unix:/run/x.sock",
             "fd://3", "systemd:thriftd", "localhost:65535", "host:65536", "[::1]9090", "",
             "127.0.0.1:9000-9100", "h:10-9"]
    for i, text in enumerate(binds):
        write("bind_address", f"{i:02d}", text.encode())

    templates = {
        "default": ("{time} {peer} {service} {method} {seqid} {outcome} {duration_us}", "P.ping"),
        "json": ("json", "PingPong.echo"),
        "braces": ("{{literal}} {method}}}", "noservice"),
        "unpaired": ("{method", "x"),
        "unknown": ("{nope}", "x"),
        "all": ("{pid} {bytes_in} {bytes_out} {service}.{method}", "S.m"),
        # Found by this target: a client's method name forged a line of its own.
        "forged-line": ('{peer} "{service}.{method}" {seqid}', 'P.x\n1.2.3.4 "P.ok" 1'),
    }
    for name, (template, method) in templates.items():
        write("access_log_format", name,
              template.encode() + b"\0" + method.encode() + b"\x00127.0.0.1:5555")


def main():
    for target in CORPUS.glob("*"):
        for seed in target.glob("seed-*"):
            seed.unlink()
    out, PingPong = generated_pingpong()
    try:
        wire_seeds(PingPong)
        hostile_seeds()
        text_seeds()
    finally:
        shutil.rmtree(out)
    for target in sorted(CORPUS.iterdir()):
        print(f"{target.name}: {len(list(target.iterdir()))} inputs")


if __name__ == "__main__":
    main()
