// The command line of `thriftd call`, parsed.
#ifndef THRIFTD_CALL_CALL_OPTIONS_H_
#define THRIFTD_CALL_CALL_OPTIONS_H_

#include <string>
#include <vector>

#include "call/client_stack.h"
#include "src/base/status.h"

namespace thriftd::call {

/// What `thriftd call` was asked to do.
enum class Mode { kCall, kList, kDescribe, kProbe, kEmitSchema, kHelp };

struct CallOptions {
  Mode mode = Mode::kCall;
  StackOptions stack;  ///< address, transport, protocol, timeout, verbose
  std::string idl;     ///< --idl: a .thrift IDL or a .json schema
  /// --schema-from (or THRIFTD_SCHEMA_FROM, set before parsing): the metrics
  /// endpoint whose /schema is the IDL, when no --idl is given.
  std::string schema_from;
  std::string emit_format;                ///< --emit-schema: "json" or "cc"
  std::string output;                     ///< -o: where --emit-schema writes (empty: stdout)
  std::vector<std::string> include_dirs;  ///< -I
  std::string target;  ///< [MUX:]Service.method (a call, --describe, --probe METHOD)
  std::string data;    ///< the arguments: JSON, or "@" for one object per stdin line
  bool data_given = false;
  bool multiplexed = false;  ///< --multiplexed: the service's name is the multiplexed name
  bool pretty = false;       ///< --pretty: indented replies
};

/// The environment variable a default --schema-from is read from.
constexpr char kSchemaFromEnv[] = "THRIFTD_SCHEMA_FROM";

/// Parses argv after "call" into `options` (whose schema_from may hold the
/// environment's default). A usage error names the argument.
Status ParseCallOptions(const std::vector<std::string>& args, CallOptions* options);

/// The --help text.
const char* CallUsage();

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_CALL_OPTIONS_H_
