#include "call/call_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include <thrift/TOutput.h>

#include "call/call_options.h"
#include "call/caller.h"
#include "call/idl_compiler.h"
#include "call/signature.h"
#include "call/value_codec.h"

namespace thriftd::call {
namespace {

// The probe's method: a name no IDL is expected to declare.
constexpr char kProbeMethod[] = "__thriftd_probe__";

int Fail(int exit_status, const std::string& message) {
  std::fprintf(stderr, "thriftd call: %s\n", message.c_str());
  return exit_status;
}

// Writes `text` to stdout and flushes it: a reply that did not reach a
// full disk or a closed pipe must not exit 0.
int Print(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
    return Fail(kCallExitOutput, std::string("stdout: ") + std::strerror(errno));
  return kCallExitOk;
}

// Where a call goes: "[MUX:]Service.method" resolved in the schema.
struct Target {
  const Service* service = nullptr;
  const Method* method = nullptr;
  std::string multiplexed;  ///< empty: not multiplexed
};

Status Resolve(const Schema& schema, const std::string& text, bool multiplexed, Target* target) {
  std::string rest = text;
  size_t colon = rest.find(':');
  if (colon != std::string::npos) {
    target->multiplexed = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
    if (target->multiplexed.empty())
      return Status::Error(text + ": empty multiplexed name before ':'");
  }
  size_t dot = rest.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size())
    return Status::Error(text + ": expected SERVICE.METHOD");
  std::string service_name = rest.substr(0, dot);
  std::string method_name = rest.substr(dot + 1);
  target->service = schema.FindService(service_name);
  if (target->service == nullptr) {
    std::string known;
    for (const Service* service : schema.Services())
      known += (known.empty() ? "" : ", ") + schema.DisplayName(service->name);
    return Status::Error("no service " + service_name +
                         " in the IDL (it has: " + (known.empty() ? "none" : known) + ")");
  }
  target->method = schema.FindMethod(*target->service, method_name);
  if (target->method == nullptr)
    return Status::Error("service " + service_name + " has no method " + method_name +
                         " (thriftd call --list)");
  if (multiplexed && target->multiplexed.empty()) {
    size_t last = service_name.rfind('.');
    target->multiplexed = last == std::string::npos ? service_name : service_name.substr(last + 1);
  }
  return Status::Ok();
}

int List(const Schema& schema) {
  std::ostringstream out;
  for (const Service* service : schema.Services()) {
    out << "service " << schema.DisplayName(service->name);
    if (!service->extends.empty()) out << " extends " << schema.DisplayName(service->extends);
    out << "\n";
    for (const Method& method : service->methods) out << "  " << Signature(schema, method) << "\n";
  }
  return Print(out.str());
}

int Describe(const Schema& schema, const Target& target) {
  std::string text =
      Signature(schema, *target.method, schema.DisplayName(target.service->name)) + "\n";
  Json arguments = Json::object();
  for (const Field& field : target.method->arguments)
    arguments[field.name] = TemplateOf(schema, field.type);
  return Print(text + arguments.dump(2) + "\n");
}

Status ParseArguments(const std::string& text, Json* arguments) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    *arguments = Json::object();
    return Status::Ok();
  }
  try {
    *arguments = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ...": the
    // bracketed id means nothing to a user.
    std::string message = e.what();
    size_t bracket = message.find("] ");
    if (message.front() == '[' && bracket != std::string::npos)
      message = message.substr(bracket + 2);
    return Status::Error("the arguments are not JSON: " + message);
  }
  return Status::Ok();
}

// Prints a call's outcome; returns its exit status.
int Report(const Outcome& outcome, const std::string& prefix) {
  if (!outcome.json.empty() && Print(outcome.json + "\n") != kCallExitOk) return kCallExitOutput;
  if (!outcome.error.empty())
    std::fprintf(stderr, "thriftd call: %s%s\n", prefix.c_str(), outcome.error.c_str());
  return outcome.exit_status;
}

// -d @: one JSON object a line, one call each, on one connection. Every
// line is tried (a bad line or a declared exception does not stop the
// rest) until the transport fails; the status is the first failure's.
int CallEachLine(Caller* caller, const Target& target) {
  int first_failure = kCallExitOk;
  std::string line;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string prefix = "stdin:" + std::to_string(number) + ": ";
    Json arguments;
    Status status = ParseArguments(line, &arguments);
    int exit_status =
        status.ok() ? Report(caller->Call(*target.method, target.multiplexed, arguments), prefix)
                    : Fail(kCallExitUsage, prefix + status.message());
    if (first_failure == kCallExitOk) first_failure = exit_status;
    if (exit_status == kCallExitTransport || exit_status == kCallExitOutput) break;
  }
  return first_failure;
}

}  // namespace

int RunCallCommand(const std::vector<std::string>& args) {
  // Thrift prints its own line for a failed connect; ours says it once.
  apache::thrift::GlobalOutput.setOutputFunction([](const char*) {});
  CallOptions options;
  Status status = ParseCallOptions(args, &options);
  if (!status.ok()) return Fail(kCallExitUsage, status.message());
  if (options.mode == Mode::kHelp) {
    return Print(CallUsage());
  }
  Schema schema;
  if (!options.idl.empty()) {
    status = LoadSchema(options.idl, options.include_dirs, &schema);
    if (!status.ok()) return Fail(kCallExitUsage, status.message());
  }
  if (options.mode == Mode::kList) return List(schema);
  if (options.mode == Mode::kProbe && options.target.empty()) {
    Caller caller(nullptr, options.stack, false);
    return Report(caller.Probe(kProbeMethod, ""), "");
  }
  Target target;
  status = Resolve(schema, options.target, options.multiplexed, &target);
  if (!status.ok()) return Fail(kCallExitUsage, status.message());
  if (options.mode == Mode::kDescribe) return Describe(schema, target);
  Caller caller(&schema, options.stack, options.pretty);
  if (options.mode == Mode::kProbe) {
    // The method must answer as declared (a result, not an exception);
    // nothing is printed but the reason it did not.
    Outcome outcome = caller.Call(*target.method, target.multiplexed, Json::object());
    if (outcome.exit_status == kCallExitDeclaredException)
      outcome.error = target.method->name + " threw " + outcome.json;
    outcome.json.clear();
    return Report(outcome, "");
  }
  if (options.data == "@") return CallEachLine(&caller, target);
  Json arguments;
  status = ParseArguments(options.data, &arguments);
  if (!status.ok()) return Fail(kCallExitUsage, status.message());
  return Report(caller.Call(*target.method, target.multiplexed, arguments), "");
}

}  // namespace thriftd::call
