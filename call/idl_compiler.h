// The Thrift compiler as `thriftd call`'s IDL reader: `thrift -r --gen json`
// on the IDL into a temporary directory, then the Schema read from there.
#ifndef THRIFTD_CALL_IDL_COMPILER_H_
#define THRIFTD_CALL_IDL_COMPILER_H_

#include <string>
#include <vector>

#include "call/schema.h"
#include "src/base/status.h"

namespace thriftd::call {

/// Loads `idl` into `schema`: a path ending in ".json" is read as the
/// compiler's JSON directly; any other is compiled by the `thrift` found on
/// PATH, with `include_dirs` as its -I options. The compiler's own error
/// message (the IDL's file:line) is the Status's. The temporary directory
/// is removed before this returns.
Status LoadSchema(const std::string& idl, const std::vector<std::string>& include_dirs,
                  Schema* schema);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_IDL_COMPILER_H_
