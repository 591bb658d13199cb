// One connection to a live service, and the calls `thriftd call` makes on
// it: arguments encoded from JSON by the schema, the reply decoded to JSON.
#ifndef THRIFTD_CALL_CALLER_H_
#define THRIFTD_CALL_CALLER_H_

#include <string>

#include "call/client_stack.h"
#include "call/schema.h"
#include "call/value_codec.h"
#include "src/base/status.h"

namespace thriftd::call {

/// `thriftd call`'s exit statuses (documented in man/thriftd-call.1).
inline constexpr int kCallExitOk = 0;
inline constexpr int kCallExitDeclaredException = 1;  ///< printed as JSON on stdout
inline constexpr int kCallExitUsage = 2;              ///< usage, IDL, schema or JSON error
inline constexpr int kCallExitServerError = 3;        ///< a TApplicationException
inline constexpr int kCallExitTransport = 4;          ///< refused, closed, timed out, undecodable
inline constexpr int kCallExitOutput = 5;  ///< stdout could not be written (full, closed)

/// How one call ended: the status, the JSON to print (the result, a
/// declared exception; empty for a oneway call) and, on failure, one line.
struct Outcome {
  int exit_status = kCallExitOk;
  std::string json;
  std::string error;
};

/// The arguments of `method` written as its `_args` struct (no message
/// around it). An error names the argument (see WriteStruct).
Status WriteArguments(TProtocol* out, const Schema& schema, const Method& method,
                      const Json& arguments);

class Caller {
 public:
  /// `schema` is borrowed and outlives the Caller; it may be null for Probe().
  Caller(const Schema* schema, StackOptions options, bool pretty)
      : schema_(schema), options_(std::move(options)), pretty_(pretty) {}
  ~Caller();
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;

  /// Calls `method` with `arguments`, which are checked against the schema
  /// before a byte is sent; `multiplexed`, when not empty, is the service's
  /// name in a TMultiplexedProcessor (TMultiplexedProtocol). Connects on
  /// first use; a transport error closes the connection.
  Outcome Call(const Method& method, const std::string& multiplexed, const Json& arguments);

  /// Calls `method_name` with no arguments and reads whatever answers: a
  /// reply or a TApplicationException (UNKNOWN_METHOD from a generated
  /// processor) proves the service answers.
  Outcome Probe(const std::string& method_name, const std::string& multiplexed);

 private:
  Status Connect();
  // Sends the message the writer writes (the args struct) and returns the
  // reply's type, with the reply's message begun; throws TException.
  template <typename WriteArgs>
  apache::thrift::protocol::TMessageType Exchange(const std::string& method_name,
                                                  const std::string& multiplexed, bool oneway,
                                                  WriteArgs write_args);
  Outcome Failed(int exit_status, const std::string& error);
  std::string Dump(const Json& value) const;

  const Schema* schema_;
  StackOptions options_;
  bool pretty_;
  ClientStack stack_;
  bool connected_ = false;
  int32_t seqid_ = 0;
};

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_CALLER_H_
