#include "workers/thrift_factories.h"

#include <thrift/TApplicationException.h>
#include <thrift/TConfiguration.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>

namespace thriftd {

using apache::thrift::TConfiguration;
using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

namespace {

// THeaderProtocol reads each message through an inner binary or compact
// protocol that it makes afresh in readMessageBegin, without a string or
// container limit: a 56-byte header frame whose method name claimed 1.6 GB
// made a worker allocate (and zero) it. Found by the connection_header fuzz
// target (tests/fuzz). This one limits the inner protocol before it reads.
class LimitedHeaderProtocol final : public THeaderProtocol {
 public:
  LimitedHeaderProtocol(const std::shared_ptr<TTransport>& transport, int32_t limit)
      : THeaderProtocol(transport), limit_(limit) {
    LimitInner();
  }

  // THeaderProtocol::readMessageBegin (Apache Thrift 0.17), with
  // LimitInner() between making the inner protocol and reading through it.
  uint32_t readMessageBegin_virt(std::string& name, TMessageType& type, int32_t& seqid) override {
    try {
      trans_->resetProtocol();
      resetProtocol();
    } catch (const apache::thrift::TApplicationException& error) {
      // A protocol id it does not know: the client is told, as Thrift does.
      writeMessageBegin("", T_EXCEPTION, 0);
      error.write(static_cast<TProtocol*>(this));
      writeMessageEnd();
      trans_->flush();
      throw;
    }
    LimitInner();
    return proto_->readMessageBegin(name, type, seqid);
  }

 private:
  void LimitInner() {
    if (proto_.get() == limited_) return;  // the one limited for the last message
    if (auto* binary = dynamic_cast<TBinaryProtocolT<THeaderTransport>*>(proto_.get())) {
      binary->setStringSizeLimit(limit_);
      binary->setContainerSizeLimit(limit_);
    } else if (dynamic_cast<TCompactProtocolT<THeaderTransport>*>(proto_.get()) != nullptr) {
      // Its limits are set only by its constructor.
      proto_ = std::make_shared<TCompactProtocolT<THeaderTransport>>(trans_, limit_, limit_);
    }
    limited_ = proto_.get();
  }

  int32_t limit_;
  TProtocol* limited_ = nullptr;
};

template <typename Transport>
std::shared_ptr<TProtocol> Payload(const WorkerSettings& settings,
                                   const std::shared_ptr<Transport>& transport) {
  auto limit = static_cast<int32_t>(settings.thrift_max_message_size);
  if (settings.thrift_protocol_factory == "compact")
    return std::make_shared<TCompactProtocolT<Transport>>(transport, limit, limit);
  if (settings.thrift_protocol_factory == "json") return std::make_shared<TJSONProtocol>(transport);
  return std::make_shared<TBinaryProtocolT<Transport>>(transport, limit, limit,
                                                       /*strict_read=*/true,
                                                       /*strict_write=*/true);
}

}  // namespace

std::shared_ptr<TProtocol> MakeProtocol(const WorkerSettings& settings,
                                        const std::shared_ptr<MessageTransport>& transport) {
  auto config = std::make_shared<TConfiguration>(static_cast<int>(settings.thrift_max_message_size),
                                                 static_cast<int>(settings.thrift_max_frame_size));
  auto max_frame = static_cast<uint32_t>(settings.thrift_max_frame_size);
  if (settings.thrift_protocol_factory == "header") {
    // Over framed, each header frame comes inside a framed frame and the
    // reply goes back the same way, as Apache Thrift's cross-test clients
    // (C++ and Python) and its stock servers do it.
    std::shared_ptr<TTransport> below = transport;
    if (settings.thrift_transport_factory == "framed")
      below = std::make_shared<TFramedTransport>(transport, config);
    auto protocol = std::make_shared<LimitedHeaderProtocol>(
        below, static_cast<int32_t>(settings.thrift_max_message_size));
    auto header = std::static_pointer_cast<THeaderTransport>(protocol->getTransport());
    header->setConfiguration(config);
    header->setMaxFrameSize(max_frame);
    return protocol;
  }
  if (settings.thrift_transport_factory == "framed") {
    return Payload<TTransport>(settings, std::make_shared<TFramedTransport>(transport, config));
  }
  if (settings.thrift_transport_factory == "header") {
    auto header = std::make_shared<THeaderTransport>(transport, config);
    header->setMaxFrameSize(max_frame);
    return Payload<TTransport>(settings, header);
  }
  // buffered, and zlib: the connection inflates, the window holds what the
  // buffered transport would.
  return Payload<MessageTransport>(settings, transport);
}

MessageScanner MakeScanner(const WorkerSettings& settings) {
  using Framing = MessageScanner::Framing;
  using Encoding = MessageScanner::Encoding;
  Framing framing = settings.thrift_transport_factory == "header"   ? Framing::kHeader
                    : settings.thrift_transport_factory != "framed" ? Framing::kBuffered
                    : settings.thrift_protocol_factory == "header"  ? Framing::kFramedHeader
                                                                    : Framing::kFramed;
  Encoding encoding = settings.thrift_protocol_factory == "compact" ? Encoding::kCompact
                      : settings.thrift_protocol_factory == "json"  ? Encoding::kJson
                                                                    : Encoding::kBinary;
  return MessageScanner(framing, encoding,
                        {settings.thrift_max_frame_size, settings.thrift_max_message_size});
}

bool CompressedStream(const WorkerSettings& settings) {
  return settings.thrift_transport_factory == "zlib";
}

int HeaderFrameOffset(const WorkerSettings& settings) {
  if (settings.thrift_transport_factory == "header") return 0;
  if (settings.thrift_transport_factory == "framed" && settings.thrift_protocol_factory == "header")
    return 4;
  return -1;
}

}  // namespace thriftd
