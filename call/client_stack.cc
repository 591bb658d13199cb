#include "call/client_stack.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/ssl.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TVirtualTransport.h>
#include <thrift/transport/TZlibTransport.h>

#include "call/connect_address.h"
#include "src/base/limited_header_protocol.h"

namespace thriftd::call {
namespace {

using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

// Between the socket and the rest of the stack: what goes over the wire,
// as `hexdump -C` shows it, one block per read or write.
class TapTransport : public TVirtualTransport<TapTransport> {
 public:
  explicit TapTransport(std::shared_ptr<TTransport> inner) : inner_(std::move(inner)) {}
  bool isOpen() const override { return inner_->isOpen(); }
  bool peek() override { return inner_->peek(); }
  void open() override { inner_->open(); }
  void close() override { inner_->close(); }
  uint32_t read(uint8_t* buf, uint32_t len) {
    uint32_t n = inner_->read(buf, len);
    Dump("<<", buf, n);
    return n;
  }
  void write(const uint8_t* buf, uint32_t len) {
    Dump(">>", buf, len);
    inner_->write(buf, len);
  }
  void flush() override { inner_->flush(); }

 private:
  static void Dump(const char* direction, const uint8_t* buf, uint32_t len) {
    if (len == 0) return;
    std::fprintf(stderr, "%s %u byte(s) %s\n", direction, len,
                 direction[0] == '>' ? "sent" : "received");
    for (uint32_t row = 0; row < len; row += 16) {
      std::fprintf(stderr, "%s %08x ", direction, row);
      for (uint32_t i = row; i < row + 16; ++i) {
        if (i < len)
          std::fprintf(stderr, " %02x", buf[i]);
        else
          std::fputs("   ", stderr);
      }
      std::fputs("  |", stderr);
      for (uint32_t i = row; i < row + 16 && i < len; ++i)
        std::fputc(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.', stderr);
      std::fputs("|\n", stderr);
    }
  }
  std::shared_ptr<TTransport> inner_;
};

// The factory's context, for what TSSLSocketFactory has no call for.
class TlsFactory : public TSSLSocketFactory {
 public:
  TlsFactory() : TSSLSocketFactory(SSLTLS) {}
  SSL_CTX* context() { return ctx_->get(); }
};

// --insecure: whatever the server's certificate names.
class AllowAnyPeer : public AccessManager {
 public:
  Decision verify(const sockaddr_storage&) noexcept override { return ALLOW; }
};

// A TLS client context as `tls` says, checking the server's certificate
// and name (an IP address or host name in its subjectAltName) unless
// --insecure. TLS 1.2 at least, as thriftd's own TLS listeners.
Status MakeTlsFactory(const TlsOptions& tls, std::shared_ptr<TSSLSocketFactory>* out) {
  std::string step;
  try {
    auto factory = std::make_shared<TlsFactory>();
    if (SSL_CTX_set_min_proto_version(factory->context(), TLS1_2_VERSION) != 1)
      return Status::Error("TLS: cannot require TLS 1.2");
    factory->authenticate(!tls.insecure);
    if (tls.insecure) {
      // Thrift checks the chain's result and the name after any handshake,
      // even unauthenticated: the chain's errors are cleared as they are
      // found, and any peer is allowed.
      SSL_CTX_set_verify(factory->context(), SSL_VERIFY_NONE, [](int, X509_STORE_CTX* store) {
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return 1;
      });
      factory->access(std::make_shared<AllowAnyPeer>());
    }
    step = "--cacert " + tls.cacert;
    if (!tls.cacert.empty()) {
      factory->loadTrustedCertificates(tls.cacert.c_str());
    } else if (SSL_CTX_set_default_verify_paths(factory->context()) != 1) {
      return Status::Error("TLS: cannot load the system's CA certificates (give --cacert)");
    }
    if (!tls.cert.empty()) {
      step = "--cert " + tls.cert;
      factory->loadCertificate(tls.cert.c_str());
      const std::string& key = tls.key.empty() ? tls.cert : tls.key;
      step = "--key " + key;
      factory->loadPrivateKey(key.c_str());
    }
    *out = std::move(factory);
  } catch (const apache::thrift::TException& e) {
    return Status::Error(step + ": " + e.what());
  }
  return Status::Ok();
}

Status MakeSocket(const StackOptions& options, std::shared_ptr<TSocket>* socket,
                  std::shared_ptr<TSSLSocketFactory>* tls) {
  BindAddress address;
  if (!ParseConnectAddress(options.address, UnixSockets::kAccepted, &address)) {
    return Status::Error("address " + options.address +
                         ": expected HOST:PORT, [IPv6]:PORT or unix:PATH (a port of 1-65535)");
  }
  if (options.tls.enabled) {
    // Thrift's TLS sockets are TCP only.
    if (address.kind == BindAddress::Kind::kUnix)
      return Status::Error("address " + options.address + ": --tls needs HOST:PORT");
    Status status = MakeTlsFactory(options.tls, tls);
    if (!status.ok()) return status;
    *socket = (*tls)->createSocket(address.host, address.port);
  } else {
    *socket = address.kind == BindAddress::Kind::kUnix
                  ? std::make_shared<TSocket>(address.path)
                  : std::make_shared<TSocket>(address.host, address.port);
  }
  (*socket)->setConnTimeout(options.timeout_ms);
  (*socket)->setRecvTimeout(options.timeout_ms);
  (*socket)->setSendTimeout(options.timeout_ms);
  return Status::Ok();
}

}  // namespace

Status MakeClientStack(const StackOptions& options, ClientStack* stack) {
  const std::string& t = options.transport;
  const std::string& p = options.protocol;
  if (t != "buffered" && t != "framed" && t != "header" && t != "zlib")
    return Status::Error("--thrift-transport-factory " + t +
                         ": expected buffered, framed, header or zlib");
  if (p != "binary" && p != "compact" && p != "json" && p != "header")
    return Status::Error("--thrift-protocol-factory " + p +
                         ": expected binary, compact, json or header");
  if (p == "header" && t != "header" && t != "framed")
    return Status::Error(
        "--thrift-protocol-factory header needs --thrift-transport-factory header or framed");
  std::shared_ptr<TSocket> socket;
  Status status = MakeSocket(options, &socket, &stack->tls);
  if (!status.ok()) return status;
  std::shared_ptr<TTransport> wire = socket;
  if (options.verbose) wire = std::make_shared<TapTransport>(socket);

  if (p == "header") {
    // THeaderProtocol frames with its own THeaderTransport; over framed,
    // each header frame inside a framed frame, as thriftd serves it.
    stack->transport = wire;
    if (t == "framed") stack->transport = std::make_shared<TFramedTransport>(wire);
    // The inner protocol it makes per reply gets the limit below too.
    stack->protocol = std::make_shared<LimitedHeaderProtocol>(stack->transport, kMaxReplyBytes);
    return Status::Ok();
  }
  if (t == "buffered") {
    stack->transport = std::make_shared<TBufferedTransport>(wire);
  } else if (t == "framed") {
    stack->transport = std::make_shared<TFramedTransport>(wire);
  } else if (t == "zlib") {
    stack->transport = std::make_shared<TZlibTransport>(wire);
  } else {
    // The header names the payload's protocol, so that the server decodes
    // it with the one this client speaks (THeaderTransport would say compact).
    auto header = std::make_shared<THeaderTransport>(wire);
    header->setProtocolId(p == "compact" ? T_COMPACT_PROTOCOL
                          : p == "json"  ? T_JSON_PROTOCOL
                                         : T_BINARY_PROTOCOL);
    stack->transport = header;
  }
  // A string or container a hostile server claims is refused past this
  // (Thrift's readers make room for the claimed size before reading it).
  constexpr std::int32_t kLimit = kMaxReplyBytes;
  if (p == "compact") {
    stack->protocol = std::make_shared<TCompactProtocol>(stack->transport, kLimit, kLimit);
  } else if (p == "json") {
    stack->protocol = std::make_shared<TJSONProtocol>(stack->transport);
  } else {
    stack->protocol =
        std::make_shared<TBinaryProtocol>(stack->transport, kLimit, kLimit,
                                          /*strict_read=*/false, /*strict_write=*/true);
  }
  return Status::Ok();
}

}  // namespace thriftd::call
