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
  const std::string& address = options.address;
  if (address.rfind("unix:", 0) == 0) {
    if (address.size() == 5) return Status::Error("address unix: names no path");
    *socket = std::make_shared<TSocket>(address.substr(5));
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
      return Status::Error("address " + address + ": expected HOST:PORT or unix:PATH");
    std::string host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    char* end = nullptr;
    long port = std::strtol(address.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
      return Status::Error("address " + address + ": the port must be 1-65535");
    *socket = std::make_shared<TSocket>(host, static_cast<int>(port));
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
  if (p == "header" && t != "header")
    return Status::Error(
        "--thrift-protocol-factory header needs --thrift-transport-factory header");
  std::shared_ptr<TSocket> socket;
  Status status = MakeSocket(options, &socket);
  if (!status.ok()) return status;
  std::shared_ptr<TTransport> wire = socket;
  if (options.verbose) wire = std::make_shared<TapTransport>(socket);

  if (p == "header") {
    stack->transport = wire;
    // THeaderProtocol frames with its own THeaderTransport.
    stack->protocol = std::make_shared<THeaderProtocol>(wire);
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
