#include "src/base/limited_header_protocol.h"

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/THeaderTransport.h>

namespace thriftd {

using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

LimitedHeaderProtocol::LimitedHeaderProtocol(const std::shared_ptr<TTransport>& transport,
                                             int32_t limit)
    : THeaderProtocol(transport), limit_(limit) {
  LimitInner();
}

uint32_t LimitedHeaderProtocol::readMessageBegin_virt(std::string& name, TMessageType& type,
                                                      int32_t& seqid) {
  try {
    trans_->resetProtocol();
    resetProtocol();
  } catch (const apache::thrift::TApplicationException& error) {
    // A protocol id it does not know: the client is told, as Thrift does.
    // The reply's header carries that id back, but a negative one (an
    // int16 in THeaderTransport) would never be written:
    // THeaderTransport::writeVarint32 shifts its sign bit back in forever,
    // over the stack (found by the connection_framed fuzz target). Such a
    // reply names the protocol it is written in instead (resetProtocol()
    // kept the last message's inner protocol, but took the new id).
    if (trans_->getProtocolId() > 0x7fff) {
      bool compact = dynamic_cast<TCompactProtocolT<THeaderTransport>*>(proto_.get()) != nullptr;
      protoId_ = compact ? T_COMPACT_PROTOCOL : T_BINARY_PROTOCOL;
      trans_->setProtocolId(static_cast<uint16_t>(protoId_));
    }
    writeMessageBegin("", T_EXCEPTION, 0);
    error.write(static_cast<TProtocol*>(this));
    writeMessageEnd();
    trans_->flush();
    throw;
  }
  LimitInner();
  return proto_->readMessageBegin(name, type, seqid);
}

void LimitedHeaderProtocol::LimitInner() {
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

}  // namespace thriftd
