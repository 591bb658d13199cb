#include "call/client_stack.h"

#include <cstdio>
#include <cstdlib>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TVirtualTransport.h>
#include <thrift/transport/TZlibTransport.h>

#include "src/base/bind_address.h"

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

Status MakeSocket(const StackOptions& options, std::shared_ptr<TSocket>* socket) {
  // Spelled as thriftd's own binds are; a client connects to a port, a path.
  BindAddress address;
  if (!ParseBindAddress(options.address, &address) ||
      (address.kind == BindAddress::Kind::kTcp && (address.host.empty() || address.port == 0)) ||
      address.kind == BindAddress::Kind::kFd || address.kind == BindAddress::Kind::kSystemd) {
    return Status::Error("address " + options.address +
                         ": expected HOST:PORT, [IPv6]:PORT or unix:PATH (a port of 1-65535)");
  }
  *socket = address.kind == BindAddress::Kind::kUnix
                ? std::make_shared<TSocket>(address.path)
                : std::make_shared<TSocket>(address.host, address.port);
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
  Status status = MakeSocket(options, &socket);
  if (!status.ok()) return status;
  std::shared_ptr<TTransport> wire = socket;
  if (options.verbose) wire = std::make_shared<TapTransport>(socket);

  if (p == "header") {
    // THeaderProtocol frames with its own THeaderTransport; over framed,
    // each header frame inside a framed frame, as thriftd serves it.
    stack->transport = wire;
    if (t == "framed") stack->transport = std::make_shared<TFramedTransport>(wire);
    stack->protocol = std::make_shared<THeaderProtocol>(stack->transport);
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
