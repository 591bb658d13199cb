// THeaderProtocol reads each message through an inner binary or compact
// protocol that it makes afresh in readMessageBegin, without a string or
// container limit: a 56-byte header frame whose method name claimed 1.6 GB
// made a worker allocate (and zero) it. Found by the connection_header fuzz
// target (tests/fuzz). This one limits the inner protocol before it reads.
// Used by the workers (a server's reads) and by `thriftd call` (a reply's).
#ifndef THRIFTD_SRC_BASE_LIMITED_HEADER_PROTOCOL_H_
#define THRIFTD_SRC_BASE_LIMITED_HEADER_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/protocol/THeaderProtocol.h>

namespace thriftd {

class LimitedHeaderProtocol final : public apache::thrift::protocol::THeaderProtocol {
 public:
  LimitedHeaderProtocol(const std::shared_ptr<apache::thrift::transport::TTransport>& transport,
                        int32_t limit);

  // THeaderProtocol::readMessageBegin (Apache Thrift 0.17), with
  // LimitInner() between making the inner protocol and reading through it.
  uint32_t readMessageBegin_virt(std::string& name, apache::thrift::protocol::TMessageType& type,
                                 int32_t& seqid) override;

 private:
  void LimitInner();

  int32_t limit_;
  apache::thrift::protocol::TProtocol* limited_ = nullptr;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_LIMITED_HEADER_PROTOCOL_H_
