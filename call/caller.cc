#include "call/caller.h"

#include <chrono>
#include <cstdio>
#include <new>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TMultiplexedProtocol.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

namespace thriftd::call {
namespace {

using apache::thrift::TApplicationException;
using apache::thrift::TException;
using apache::thrift::protocol::TMessageType;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TTransportException;
namespace T = apache::thrift::protocol;

const char* ApplicationErrorName(TApplicationException::TApplicationExceptionType type) {
  switch (type) {
    case TApplicationException::UNKNOWN_METHOD:
      return "UNKNOWN_METHOD";
    case TApplicationException::INVALID_MESSAGE_TYPE:
      return "INVALID_MESSAGE_TYPE";
    case TApplicationException::WRONG_METHOD_NAME:
      return "WRONG_METHOD_NAME";
    case TApplicationException::BAD_SEQUENCE_ID:
      return "BAD_SEQUENCE_ID";
    case TApplicationException::MISSING_RESULT:
      return "MISSING_RESULT";
    case TApplicationException::INTERNAL_ERROR:
      return "INTERNAL_ERROR";
    case TApplicationException::PROTOCOL_ERROR:
      return "PROTOCOL_ERROR";
    case TApplicationException::INVALID_TRANSFORM:
      return "INVALID_TRANSFORM";
    case TApplicationException::INVALID_PROTOCOL:
      return "INVALID_PROTOCOL";
    case TApplicationException::UNSUPPORTED_CLIENT_TYPE:
      return "UNSUPPORTED_CLIENT_TYPE";
    default:
      return "UNKNOWN";
  }
}

// What a transport error means when the server hung up mid-call: most
// often a client speaking another transport or protocol than the server's.
std::string Explained(const TTransportException& e, const StackOptions& options) {
  std::string text = e.what();
  if (e.getType() == TTransportException::END_OF_FILE) {
    text += " (the server closed the connection: does it serve --thrift-transport-factory " +
            options.transport + " --thrift-protocol-factory " + options.protocol + "?)";
  }
  return text;
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Status WriteArguments(TProtocol* out, const Schema& schema, const Method& method,
                      const Json& arguments) {
  return WriteStruct(out, schema, method.arguments, method.name + "_args", false, arguments,
                     "arguments", /*arguments=*/true);
}

Caller::~Caller() {
  if (!connected_) return;
  try {
    stack_.transport->close();
  } catch (const TException&) {
    // Closing a connection that failed: nothing left to tell.
  }
}

Status Caller::Connect() {
  if (connected_) return Status::Ok();
  Status status = MakeClientStack(options_, &stack_);
  if (!status.ok()) return status;
  auto start = std::chrono::steady_clock::now();
  try {
    stack_.transport->open();
  } catch (const TException& e) {
    return Status::Error(options_.address + ": cannot connect: " + e.what());
  }
  if (options_.verbose)
    std::fprintf(stderr, "thriftd call: connected to %s in %.3f ms\n", options_.address.c_str(),
                 MillisecondsSince(start));
  connected_ = true;
  return Status::Ok();
}

Outcome Caller::Failed(int exit_status, const std::string& error) {
  if (exit_status == kCallExitTransport && connected_) {
    // The connection is out of step (or gone): the next call starts afresh.
    try {
      stack_.transport->close();
    } catch (const TException&) {
    }
    connected_ = false;
  }
  Outcome outcome;
  outcome.exit_status = exit_status;
  outcome.error = error;
  return outcome;
}

std::string Caller::Dump(const Json& value) const {
  // A string from the server need not be UTF-8: shown with U+FFFD, not refused.
  return value.dump(pretty_ ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

template <typename WriteArgs>
TMessageType Caller::Exchange(const std::string& method_name, const std::string& multiplexed,
                              bool oneway, WriteArgs write_args) {
  std::shared_ptr<TProtocol> out = stack_.protocol;
  if (!multiplexed.empty())
    out = std::make_shared<T::TMultiplexedProtocol>(stack_.protocol, multiplexed);
  out->writeMessageBegin(method_name, oneway ? T::T_ONEWAY : T::T_CALL, ++seqid_);
  write_args(out.get());
  out->writeMessageEnd();
  out->getTransport()->writeEnd();
  out->getTransport()->flush();
  if (oneway) return T::T_ONEWAY;
  std::string name;
  TMessageType type = T::T_CALL;
  int32_t seqid = 0;
  stack_.protocol->readMessageBegin(name, type, seqid);
  // Another call's reply (a server out of step) must not pass for this
  // one's. An exception with seqid 0 is a server's that failed before it
  // read the call's (THeaderProtocol's unknown-protocol answer, for one).
  if (seqid != seqid_ && !(type == T::T_EXCEPTION && seqid == 0)) {
    throw TException("the reply's seqid " + std::to_string(seqid) + " is not the call's " +
                     std::to_string(seqid_));
  }
  return type;
}

Outcome Caller::Call(const Method& method, const std::string& multiplexed, const Json& arguments) {
  // A dry run into memory: a bad argument is found before anything is sent.
  {
    auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
    T::TBinaryProtocol dry_run(buffer);
    Status status = WriteArguments(&dry_run, *schema_, method, arguments);
    if (!status.ok()) return Failed(kCallExitUsage, status.message());
  }
  Status status = Connect();
  if (!status.ok()) return Failed(kCallExitTransport, status.message());
  std::string where = options_.address + ": " + method.name;
  auto start = std::chrono::steady_clock::now();
  try {
    TMessageType type = Exchange(method.name, multiplexed, method.oneway, [&](TProtocol* out) {
      (void)WriteArguments(out, *schema_, method, arguments);  // checked above
    });
    TProtocol* in = stack_.protocol.get();
    Outcome outcome;
    if (type == T::T_ONEWAY) {
      if (options_.verbose)
        std::fprintf(stderr, "thriftd call: %s: oneway, sent in %.3f ms\n", method.name.c_str(),
                     MillisecondsSince(start));
      return outcome;
    }
    if (type == T::T_EXCEPTION) {
      TApplicationException error;
      error.read(in);
      in->readMessageEnd();
      in->getTransport()->readEnd();
      return Failed(kCallExitServerError, where + ": TApplicationException " +
                                              ApplicationErrorName(error.getType()) + ": " +
                                              error.what());
    }
    if (type != T::T_REPLY) {
      return Failed(kCallExitTransport,
                    where + ": the reply has message type " + std::to_string(type));
    }
    std::vector<Field> result_fields = method.exceptions;
    if (method.result.kind != Kind::kVoid) {
      Field success;
      success.id = 0;
      success.name = "\x01success";  // no IDL name can clash with it
      success.type = method.result;
      result_fields.push_back(success);
    }
    Json result = ReadStruct(in, *schema_, result_fields);
    in->readMessageEnd();
    in->getTransport()->readEnd();
    if (options_.verbose)
      std::fprintf(stderr, "thriftd call: %s answered in %.3f ms\n", method.name.c_str(),
                   MillisecondsSince(start));
    for (const Field& exception : method.exceptions) {
      auto thrown = result.find(exception.name);
      if (thrown == result.end()) continue;
      outcome.exit_status = kCallExitDeclaredException;
      outcome.json = Dump(Json{{"exception", TypeName(*schema_, exception.type)},
                               {"field", exception.name},
                               {"value", *thrown}});
      return outcome;
    }
    auto success = result.find("\x01success");
    if (success != result.end()) {
      outcome.json = Dump(*success);
    } else if (method.result.kind == Kind::kVoid) {
      outcome.json = "null";
    } else {
      return Failed(kCallExitServerError, where + ": the reply has no result (MISSING_RESULT)");
    }
    return outcome;
  } catch (const TTransportException& e) {
    return Failed(kCallExitTransport, where + ": " + Explained(e, options_));
  } catch (const TProtocolException& e) {
    return Failed(kCallExitTransport, where + ": the reply does not decode: " + e.what());
  } catch (const TException& e) {
    return Failed(kCallExitTransport, where + ": " + e.what());
  } catch (const std::bad_alloc&) {
    // A reply claiming more than this process can hold: the server's fault.
    return Failed(kCallExitTransport, where + ": the reply claims more memory than there is");
  }
}

Outcome Caller::Probe(const std::string& method_name, const std::string& multiplexed) {
  Status status = Connect();
  if (!status.ok()) return Failed(kCallExitTransport, status.message());
  auto start = std::chrono::steady_clock::now();
  try {
    TMessageType type = Exchange(method_name, multiplexed, false, [](TProtocol* out) {
      out->writeStructBegin("probe_args");
      out->writeFieldStop();
      out->writeStructEnd();
    });
    // Whatever came back, read to its end: it decodes, so the service speaks.
    TProtocol* in = stack_.protocol.get();
    std::string detail = "a reply";
    if (type == T::T_EXCEPTION) {
      TApplicationException error;
      error.read(in);
      detail = std::string("TApplicationException ") + ApplicationErrorName(error.getType());
    } else {
      in->skip(T::T_STRUCT);
    }
    in->readMessageEnd();
    in->getTransport()->readEnd();
    if (options_.verbose)
      std::fprintf(stderr, "thriftd call: %s answered %s in %.3f ms\n", options_.address.c_str(),
                   detail.c_str(), MillisecondsSince(start));
    return Outcome();
  } catch (const TTransportException& e) {
    return Failed(kCallExitTransport, options_.address + ": no answer: " + Explained(e, options_));
  } catch (const TException& e) {
    return Failed(kCallExitTransport, options_.address + ": no answer: " + e.what());
  } catch (const std::bad_alloc&) {
    return Failed(kCallExitTransport,
                  options_.address + ": the reply claims more memory than there is");
  }
}

}  // namespace thriftd::call
