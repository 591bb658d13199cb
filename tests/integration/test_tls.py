"""TLS: certfile turns the TCP listeners into TLS listeners (unix sockets stay
plain), for every worker kind. Certificates are made by the openssl CLI
(harness.TlsFiles); clients are Python's thrift TSSLSocket, Apache Thrift's
C++ TSSLSocket (thriftd_test_client --tls-ca) and `openssl s_client`."""

import concurrent.futures
import json
import socket
import time

import pytest
from thrift.transport.TTransport import TTransportException

import harness
from harness import PINGPONG_SO, TlsFiles, cpp_client, py_client, run_cpp_client, s_client
from test_observability import wait_lines

EXIT_CONFIG_ERROR = 2
ALICE = "CN=alice,O=thriftd tests"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """The certificates every test here shares (made once: key generation
    is the slow part)."""
    return TlsFiles(tmp_path_factory.mktemp("tls"))


def start_tls(thriftd, tls, port, kind_args, *extra, workers=1, client=None):
    """thriftd serving TLS on `port`, ready once `client` (a TlsClient, the
    CA's plain client by default) is answered."""
    server = thriftd(PINGPONG_SO, *kind_args, "-w", str(workers), "-b", f"127.0.0.1:{port}",
                     *tls.server_args(), *extra)
    server.wait_ready(port, workers=workers, tls=client or tls.client())
    return server


def test_python_and_cpp_clients_call_over_tls(thriftd, tmp_path, tls, port, kind_args):
    unix_path = tmp_path / "plain.sock"
    access = tmp_path / "access.log"
    server = thriftd(PINGPONG_SO, *kind_args, "-b", f"127.0.0.1:{port}", "-b",
                     f"unix:{unix_path}", *tls.server_args(), "--cert-reqs", "optional",
                     "--ca-certs", tls.ca, "--access-logfile", access,
                     "--access-logformat", "{method} {tls_subject}")
    server.wait_ready(port, tls=tls.client())
    payload = bytes(range(256)) * 256  # 64 KiB: several TLS records each way
    with py_client(port, tls=tls.client()) as client:
        assert client.ping() == "pong"
        assert client.echo(payload) == payload
        assert client.add(2, 3) == 5
    with py_client(port, tls=tls.client(with_certificate=True)) as client:
        assert client.add(40, 2) == 42
    assert cpp_client(port, "buffered", "binary", "ping", "echo", 65536,
                      tls=tls.client()) == ["pong", "echo 65536 ok"]
    assert cpp_client(port, "buffered", "binary", "add", 1, 2,
                      tls=tls.client(with_certificate=True)) == ["3"]
    # The unix socket stays plain; the TLS port does not speak plain Thrift.
    with py_client(unix_path) as client:
        assert client.ping() == "pong"
    with pytest.raises(TTransportException):
        harness.probe(port, timeout=2.0)
    expected = ["ping -",  # wait_ready's probe
                "ping -", "echo -", "add -", f"add {ALICE}",  # Python
                "ping -", "echo -", f"add {ALICE}",  # C++
                "ping -"]  # the unix socket (the plain call to the TLS port reached none)
    assert wait_lines(server, access, len(expected)) == expected


def test_tls_subject_in_json_access_log(thriftd, tmp_path, tls, port):
    access = tmp_path / "access.log"
    server = start_tls(thriftd, tls, port, [], "--cert-reqs", "required", "--ca-certs", tls.ca,
                       "--access-logfile", access, "--access-logformat", "json",
                       client=tls.client(with_certificate=True))
    with py_client(port, tls=tls.client(with_certificate=True)) as client:
        assert client.ping() == "pong"
    # wait_ready's probe, then the ping: both from alice's certificate.
    records = [json.loads(line) for line in wait_lines(server, access, 2)]
    assert [record["tls_subject"] for record in records] == [ALICE, ALICE]
    assert records[-1]["method"] == "ping"


def test_tls_versions_older_than_the_minimum_are_refused(thriftd, tls, port, kind_args):
    server = start_tls(thriftd, tls, port, kind_args)
    # The client would offer TLS 1.1 (security level 0 lets it), the server refuses.
    mark = server.log_mark()
    old = s_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", tls.ca)
    assert old.returncode != 0, old.stdout
    server.wait_for_log(r"TLS handshake failed: .*unsupported protocol", since=mark)
    for flag, version in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        result = s_client(port, flag, "-CAfile", tls.ca, "-verify_return_error")
        assert result.returncode == 0, result.stdout
        assert f"Protocol  : {version}" in result.stdout or f"New, {version}" in result.stdout
        assert "Verify return code: 0 (ok)" in result.stdout


def test_ssl_version_tls13_refuses_tls12(thriftd, tls, port):
    server = start_tls(thriftd, tls, port, [], "--ssl-version", "TLSv1.3")
    mark = server.log_mark()
    assert s_client(port, "-tls1_2", "-CAfile", tls.ca).returncode != 0
    server.wait_for_log(r"TLS handshake failed: .*unsupported protocol", since=mark)
    assert s_client(port, "-tls1_3", "-CAfile", tls.ca).returncode == 0


def test_mutual_tls_refuses_clients_without_a_trusted_certificate(thriftd, tls, port,
                                                                  kind_args):
    server = start_tls(thriftd, tls, port, kind_args, "--cert-reqs", "required", "--ca-certs",
                       tls.ca, client=tls.client(with_certificate=True))
    mark = server.log_mark()
    s_client(port, "-tls1_2", "-CAfile", tls.ca)
    server.wait_for_log(r"TLS handshake failed: .*peer did not return a certificate", since=mark)
    with pytest.raises(TTransportException):
        with py_client(port, tls=tls.client(), timeout=5.0) as client:
            client.ping()
    stranger = harness.TlsClient(tls.ca, tls.stranger_cert, tls.stranger_key)
    assert run_cpp_client(port, "buffered", "binary", "ping",
                          tls=stranger).returncode == harness.CPP_CLIENT_ERROR
    server.wait_for_log(r"TLS handshake failed: .*certificate verify failed", since=mark)
    assert cpp_client(port, "buffered", "binary", "ping",
                      tls=tls.client(with_certificate=True)) == ["pong"]


def test_a_stalled_handshake_is_closed_after_the_timeout(thriftd, tls, port, kind_args, kind):
    # Two sync workers: the one holding the stalled client serves nothing else.
    server = start_tls(thriftd, tls, port, kind_args, "--tls-handshake-timeout", "1",
                       "--log-level", "debug", workers=2 if kind == "sync" else 1)
    mark = server.log_mark()
    stalled = socket.create_connection(("127.0.0.1", port))
    try:
        # A ClientHello's record header (512 bytes to follow), then a byte
        # every 0.25 s: a slowloris, closed at the deadline from its accept.
        stalled.sendall(b"\x16\x03\x01\x02\x00")
        opened = time.monotonic()
        # Served meanwhile, over TLS, by the C++ and the Python client.
        assert cpp_client(port, "buffered", "binary", "ping", tls=tls.client()) == ["pong"]
        with py_client(port, tls=tls.client()) as client:
            assert client.ping() == "pong"
        stalled.settimeout(0.25)
        while True:
            assert time.monotonic() - opened < 20, "the trickling handshake is still open"
            try:
                assert stalled.recv(1024) == b""  # closed by the server
                break
            except ConnectionResetError:
                break
            except socket.timeout:
                try:
                    stalled.sendall(b"\x01")
                except (BrokenPipeError, ConnectionResetError):
                    break
        assert time.monotonic() - opened >= 0.9
    finally:
        stalled.close()
    server.wait_for_log(r"TLS handshake not finished within tls_handshake_timeout", since=mark)


def test_hup_rereads_the_certificate_and_lets_calls_finish(thriftd, tmp_path, tls, port,
                                                           kind_args):
    cert = tmp_path / "live.pem"
    key = tmp_path / "live.key"
    cert.write_bytes(tls.server_cert.read_bytes())
    key.write_bytes(tls.server_key.read_bytes())
    server = thriftd(PINGPONG_SO, *kind_args, "-b", f"127.0.0.1:{port}", "--certfile", cert,
                     "--keyfile", key)
    old_workers = server.wait_ready(port, tls=tls.client())
    assert "CN = localhost" in s_client(port, "-CAfile", tls.ca).stdout

    renewed = tls.sign("renewed", "/CN=renewed", "ca", "subjectAltName=IP:127.0.0.1")
    cert.write_bytes(renewed.read_bytes())
    key.write_bytes((tls.dir / "renewed.key").read_bytes())
    with harness.Connection(port, timeout=20.0, tls=tls.client()) as connection:
        client = connection.client
        assert client.ping() == "pong"
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # A call under way when HUP comes finishes on its old worker...
            sleeping = pool.submit(client.sleep, 1500)
            harness.wait_call_read(server, port, connection)
            server.signal("HUP")
            sleeping.result(timeout=20.0)
        server.wait(lambda: not set(old_workers) & set(server.worker_pids()),
                    message="the old worker to exit")
        # ...and then its connection, idle on a retired worker, is closed
        # (OpenSSL's state cannot be handed over): the next call fails cleanly.
        with pytest.raises(TTransportException):
            client.ping()
    # New connections get the new workers and the renewed certificate.
    harness.wait_until(lambda: "CN = renewed" in s_client(port, "-CAfile", tls.ca).stdout,
                       message="the renewed certificate")
    with py_client(port, tls=tls.client()) as fresh:
        assert fresh.ping() == "pong"


@pytest.mark.parametrize("case", ["missing-cert", "unreadable-key", "mismatched-key",
                                  "bad-ciphers", "required-without-ca", "key-without-cert"])
def test_bad_tls_settings_are_one_line_errors(tmp_path, tls, port, case):
    missing = tmp_path / "missing.pem"
    unreadable = tmp_path / "unreadable.key"
    unreadable.write_text("not a key\n")
    lines = {
        "missing-cert": (f"certfile: {missing}\nkeyfile: {tls.server_key}\n",
                         f"bad.yaml:2: certfile: cannot read {missing}: No such file or directory"),
        "unreadable-key": (f"certfile: {tls.server_cert}\nkeyfile: {unreadable}\n",
                           f"bad.yaml:3: keyfile: {unreadable} holds no usable PEM private key"),
        "mismatched-key": (f"certfile: {tls.server_cert}\nkeyfile: {tls.stranger_key}\n",
                           f"bad.yaml:3: keyfile: {tls.stranger_key} does not match the "
                           f"certificate in {tls.server_cert}"),
        "bad-ciphers": (f"certfile: {tls.server_cert}\nkeyfile: {tls.server_key}\n"
                        "ciphers: NOT-A-CIPHER\n",
                        'bad.yaml:4: ciphers: no cipher OpenSSL knows in "NOT-A-CIPHER"'),
        "required-without-ca": (f"certfile: {tls.server_cert}\nkeyfile: {tls.server_key}\n"
                                "cert_reqs: required\n",
                                'bad.yaml:4: cert_reqs: "required" needs ca_certs'),
        "key-without-cert": (f"keyfile: {tls.server_key}\n",
                             "bad.yaml:2: keyfile: set, but certfile is not (TLS is off)"),
    }
    yaml, expected = lines[case]
    (tmp_path / "bad.yaml").write_text(f"bind: 127.0.0.1:{port}\n{yaml}")
    for check in (["--check-config"], []):
        result = harness.run_thriftd("-c", "bad.yaml", *check, PINGPONG_SO, cwd=tmp_path)
        assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
        first = result.stderr.splitlines()[0]
        assert first.startswith("thriftd: " + expected), result.stderr


def test_hup_with_a_broken_key_keeps_the_running_workers(thriftd, tmp_path, tls, port):
    key = tmp_path / "live.key"
    key.write_bytes(tls.server_key.read_bytes())
    server = thriftd(PINGPONG_SO, "-b", f"127.0.0.1:{port}", "--certfile", tls.server_cert,
                     "--keyfile", key)
    workers = server.wait_ready(port, tls=tls.client())
    key.write_bytes(tls.stranger_key.read_bytes())  # the key of another certificate
    mark = server.log_mark()
    server.signal("HUP")
    server.wait_for_log(r"Reload failed, keeping the running configuration: command line: "
                        r"--keyfile: .* does not match the certificate in ", since=mark)
    assert server.worker_pids() == workers
    with py_client(port, tls=tls.client()) as client:
        assert client.ping() == "pong"
