// OutcomeRecorder: wraps a connection's output protocol to learn how each
// call ended from the reply it writes: an exception message is an
// application exception; a reply whose result struct starts with field 0
// (or is empty: a void success) is ok; any other first field is an
// exception the IDL declares. Generated processors tell nobody else.
// Runs in a worker, in the thread serving the connection.
#ifndef THRIFTD_WORKERS_OUTCOME_RECORDER_H_
#define THRIFTD_WORKERS_OUTCOME_RECORDER_H_

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/protocol/TProtocolDecorator.h>

#include "src/base/scoreboard.h"

namespace thriftd {

class OutcomeRecorder final : public apache::thrift::protocol::TProtocolDecorator {
 public:
  explicit OutcomeRecorder(std::shared_ptr<apache::thrift::protocol::TProtocol> protocol)
      : TProtocolDecorator(std::move(protocol)) {}

  /// Forgets the last reply; call before each message.
  void Reset() {
    replied_ = false;
    depth_ = 0;
    first_field_ = kUnset;
  }
  bool replied() const { return replied_; }
  /// The outcome of the last reply written (kOk when none was: a oneway call).
  CallOutcome outcome() const;
  std::int32_t seqid() const { return seqid_; }
  /// The method name the last reply carries (what the client asked for).
  const std::string& name() const { return name_; }

  uint32_t writeMessageBegin_virt(const std::string& name,
                                  const apache::thrift::protocol::TMessageType type,
                                  const int32_t seqid) override;
  uint32_t writeStructBegin_virt(const char* name) override;
  uint32_t writeStructEnd_virt() override;
  uint32_t writeFieldBegin_virt(const char* name, const apache::thrift::protocol::TType type,
                                const int16_t id) override;
  uint32_t writeFieldStop_virt() override;

 private:
  static constexpr int kUnset = -1;
  bool replied_ = false;
  bool exception_ = false;
  int depth_ = 0;
  int first_field_ = kUnset;
  std::int32_t seqid_ = 0;
  std::string name_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_OUTCOME_RECORDER_H_
