// A method's signature as IDL text, for --list and --describe, and the JSON
// template of its arguments that --describe prints.
#ifndef THRIFTD_CALL_SIGNATURE_H_
#define THRIFTD_CALL_SIGNATURE_H_

#include <string>

#include "call/schema.h"
#include "call/value_codec.h"

namespace thriftd::call {

/// "oneway void log(1: required string line) throws (1: Oops oops)"; with
/// `service`, the method is named "Service.log".
std::string Signature(const Schema& schema, const Method& method, const std::string& service = "");

/// A JSON value that fills in `type`, in the form the codec reads: zeros,
/// empty strings, the first enum member, a struct's fields (a union's
/// first), one element of a list, set or map.
Json TemplateOf(const Schema& schema, const Type& type, int depth = 0);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_SIGNATURE_H_
