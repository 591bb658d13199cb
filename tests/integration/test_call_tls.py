"""`thriftd call` over TLS (--tls, --cacert, --cert, --key, --insecure)
against Thrift's own Python TSSLServerSocket serving PingPong in this
process, with the certificates harness.TlsFiles makes, and against thriftd's own TLS listeners
(mutual TLS, every kind)."""

import ssl

import pytest

import harness
from harness import run_thriftd

EXIT_USAGE, EXIT_TRANSPORT = 2, 4
PINGPONG_IDL = harness.REPO_DIR / "examples" / "pingpong" / "pingpong.thrift"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """The directory of harness.TlsFiles: ca.pem, server.pem/.key (for
    127.0.0.1), client.pem/.key (both signed by the CA) and an unrelated
    stranger-ca.pem."""
    return harness.TlsFiles(tmp_path_factory.mktemp("tls")).dir


def tls_pingpong_server(certificates, client_certificates=False):
    """Thrift's Python TSSLServerSocket serving PingPong on 127.0.0.1 (TLS
    1.2+; requiring a client certificate signed by the CA when asked): a
    context manager yielding its address."""
    from thrift.transport import TSSLSocket, TTransport
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    if client_certificates:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(certificates / "ca.pem")
    # The CA's signature is the check; Thrift's default callback would also
    # match the client certificate's name to its address.
    listener = TSSLSocket.TSSLServerSocket(host="127.0.0.1", port=harness.free_port(),
                                           ssl_context=context,
                                           validate_callback=lambda cert, hostname: None)
    return harness.python_pingpong_server(listener, TTransport.TBufferedTransportFactory())


def call(address, *args):
    return run_thriftd("call", address, "--idl", PINGPONG_IDL, *[str(a) for a in args],
                       "PingPong.add", '{"a": 40, "b": 2}')


def error_line(result, status):
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_tls_call_checks_the_servers_certificate(certificates):
    with tls_pingpong_server(certificates) as address:
        result = call(address, "--tls", "--cacert", certificates / "ca.pem")
        assert (result.returncode, result.stdout, result.stderr) == (0, "42\n", "")
        # Signed by a CA it was not told to trust (nor the system's): refused.
        for flags in (["--tls"], ["--cacert", certificates / "stranger-ca.pem"]):
            line = error_line(call(address, *flags), EXIT_TRANSPORT)
            assert "certificate verify failed" in line, line
        # --insecure: no check at all.
        result = call(address, "--insecure")
        assert (result.returncode, result.stdout) == (0, "42\n"), result.stderr
        # Without TLS the server hears no Thrift.
        assert call(address).returncode == EXIT_TRANSPORT


def test_a_client_certificate_when_the_server_requires_one(certificates):
    with tls_pingpong_server(certificates, client_certificates=True) as address:
        ca = ("--cacert", certificates / "ca.pem")
        result = call(address, *ca, "--cert", certificates / "client.pem",
                      "--key", certificates / "client.key")
        assert (result.returncode, result.stdout, result.stderr) == (0, "42\n", "")
        assert call(address, *ca).returncode == EXIT_TRANSPORT
        # --probe over TLS too.
        probe = run_thriftd("call", address, "--probe", *ca, "--cert", certificates / "client.pem",
                            "--key", certificates / "client.key")
        assert (probe.returncode, probe.stderr) == (0, "")


def test_tls_usage_errors(certificates, tmp_path):
    missing = tmp_path / "missing.pem"
    line = error_line(call("127.0.0.1:1", "--cacert", missing), EXIT_USAGE)
    assert line == f"thriftd call: --cacert {missing}: No such file or directory"
    line = error_line(call("127.0.0.1:1", "--key", certificates / "client.key"), EXIT_USAGE)
    assert line == f"thriftd call: --key {certificates / 'client.key'} needs --cert"
    line = error_line(call(f"unix:{tmp_path}/x.sock", "--tls"), EXIT_TRANSPORT)
    assert line == f"thriftd call: address unix:{tmp_path}/x.sock: --tls needs HOST:PORT"
    # A file that is not a certificate: named, before anything is sent.
    line = error_line(call("127.0.0.1:1", "--tls", "--cacert", PINGPONG_IDL), EXIT_TRANSPORT)
    assert line.startswith(f"thriftd call: --cacert {PINGPONG_IDL}: "), line


def test_thriftd_call_against_thriftds_own_mutual_tls_listener(thriftd, certificates, port,
                                                              kind_args):
    server = thriftd(harness.PINGPONG_SO, *kind_args, "-b", f"127.0.0.1:{port}", "--certfile",
                     certificates / "server.pem", "--keyfile", certificates / "server.key",
                     "--ca-certs", certificates / "ca.pem", "--cert-reqs", "required")
    address = f"127.0.0.1:{port}"
    client = ("--cacert", certificates / "ca.pem", "--cert", certificates / "client.pem",
              "--key", certificates / "client.key")
    server.wait(lambda: run_thriftd("call", address, "--probe", *client).returncode == 0, 10.0,
                "thriftd call --probe over mutual TLS")
    result = call(address, *client)
    assert (result.returncode, result.stdout, result.stderr) == (0, "42\n", "")
    # No client certificate: thriftd refuses the handshake.
    assert call(address, "--cacert", certificates / "ca.pem").returncode == EXIT_TRANSPORT
