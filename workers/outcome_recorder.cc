#include "workers/outcome_recorder.h"

namespace thriftd {

using apache::thrift::protocol::TMessageType;
using apache::thrift::protocol::TType;

CallOutcome OutcomeRecorder::outcome() const {
  if (!replied_) return CallOutcome::kOk;
  if (exception_) return CallOutcome::kApplicationException;
  return first_field_ > 0 ? CallOutcome::kDeclaredException : CallOutcome::kOk;
}

uint32_t OutcomeRecorder::writeMessageBegin_virt(const std::string& name, const TMessageType type,
                                                 const int32_t seqid) {
  replied_ = true;
  exception_ = type == apache::thrift::protocol::T_EXCEPTION;
  seqid_ = seqid;
  // Every reply's: a call the observer did not see (a processor thriftd does
  // not know routes it, as an App's own TMultiplexedProcessor) is logged
  // under it, and a name kept from an earlier reply would be another call's.
  name_ = name;
  depth_ = 0;
  first_field_ = kUnset;
  return TProtocolDecorator::writeMessageBegin_virt(name, type, seqid);
}

uint32_t OutcomeRecorder::writeStructBegin_virt(const char* name) {
  ++depth_;
  return TProtocolDecorator::writeStructBegin_virt(name);
}

uint32_t OutcomeRecorder::writeStructEnd_virt() {
  --depth_;
  return TProtocolDecorator::writeStructEnd_virt();
}

uint32_t OutcomeRecorder::writeFieldBegin_virt(const char* name, const TType type,
                                               const int16_t id) {
  if (depth_ == 1 && first_field_ == kUnset) first_field_ = id;
  return TProtocolDecorator::writeFieldBegin_virt(name, type, id);
}

uint32_t OutcomeRecorder::writeFieldStop_virt() {
  if (depth_ == 1 && first_field_ == kUnset) first_field_ = 0;  // void success
  return TProtocolDecorator::writeFieldStop_virt();
}

}  // namespace thriftd
