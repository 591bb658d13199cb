// A method's signature as IDL text, for --list and --describe.
#ifndef THRIFTD_CALL_SIGNATURE_H_
#define THRIFTD_CALL_SIGNATURE_H_

#include <string>

#include "call/schema.h"

namespace thriftd::call {

/// "oneway void log(1: required string line) throws (1: Oops oops)"; with
/// `service`, the method is named "Service.log".
std::string Signature(const Schema& schema, const Method& method, const std::string& service = "");

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_SIGNATURE_H_
