#include "call/call_options.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace thriftd::call {

const char* CallUsage() {
  return "usage: thriftd call [OPTIONS] ADDRESS [MUX:]SERVICE.METHOD [JSON]\n"
         "       thriftd call [OPTIONS] ADDRESS [MUX:]SERVICE.METHOD -d @   (one JSON object a "
         "line)\n"
         "       thriftd call --idl FILE|--schema-from HOST:PORT --list | --describe S.M\n"
         "       thriftd call [OPTIONS] ADDRESS --probe [SERVICE.METHOD]\n"
         "       thriftd call --idl FILE --emit-schema json|cc\n"
         "Calls a method of a live Thrift service with arguments in JSON and prints the reply\n"
         "as JSON. ADDRESS is HOST:PORT, [IPv6]:PORT or unix:PATH.\n"
         "  --idl FILE            the service's IDL (.thrift, read with `thrift --gen json`)\n"
         "                        or the compiler's JSON for it (.json)\n"
         "  --schema-from HOST:PORT  without --idl: the schema a thriftd serves at /schema on\n"
         "                        its metrics endpoint (default: $THRIFTD_SCHEMA_FROM)\n"
         "  -I DIR                a directory the IDL's includes are searched in (repeatable)\n"
         "  -d JSON|@             the arguments (instead of the JSON operand); @: stdin\n"
         "  --thrift-transport-factory NAME  buffered (default), framed, header or zlib\n"
         "  --thrift-protocol-factory NAME   binary (default), compact, json or header\n"
         "  --multiplexed         name the call SERVICE:METHOD (TMultiplexedProtocol); MUX:\n"
         "                        before SERVICE names another multiplexed name\n"
         "  --timeout SECONDS     connect, send and receive timeout (default 10)\n"
         "  --tls                 TLS (1.2 or later), checking the server's certificate and\n"
         "                        name against the system's CAs; implied by the next four\n"
         "  --cacert FILE         the CA certificates (PEM) to check the server's against\n"
         "  --cert FILE           a client certificate (PEM; holding its key, or see --key)\n"
         "  --key FILE            the client certificate's private key (PEM)\n"
         "  -k, --insecure        no check of the server's certificate or name\n"
         "  --list                the services, methods and signatures in the IDL\n"
         "  --describe S.M        a method's signature and a JSON template of its arguments\n"
         "  --probe [S.M]         exit 0 when the service answers (without S.M: a call to an\n"
         "                        unknown method, answered by UNKNOWN_METHOD; no IDL needed)\n"
         "  --emit-schema json|cc the IDL as the schema an App embeds (json), or the C++\n"
         "                        source embedding it with THRIFTD_SCHEMA (cc), on stdout\n"
         "  -o FILE               --emit-schema writes FILE instead of stdout\n"
         "  --pretty              indent the reply\n"
         "  -v, --verbose         hex-dump the bytes exchanged and time the call (stderr)\n"
         "Exit status: 0 ok, 1 the method threw a declared exception (printed as JSON),\n"
         "2 a usage, IDL or JSON error, 3 the server answered with a TApplicationException,\n"
         "4 a transport error (refused, closed, timed out, a reply that does not decode),\n"
         "5 stdout could not be written (a full disk, a closed pipe).\n";
}

Status ParseCallOptions(const std::vector<std::string>& args, CallOptions* options) {
  std::vector<std::string> operands;
  bool probe = false, list = false, describe = false, schema_from_flag = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_inline = true;
    }
    auto take = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return Status::Ok();
      }
      if (i + 1 >= args.size()) return Status::Error(arg + " needs a value");
      *out = args[++i];
      return Status::Ok();
    };
    Status status;
    if (arg == "-h" || arg == "--help") {
      options->mode = Mode::kHelp;
      return Status::Ok();
    } else if (arg == "--idl") {
      status = take(&options->idl);
    } else if (arg == "--schema-from") {
      status = take(&options->schema_from);
      schema_from_flag = true;
    } else if (arg == "--emit-schema") {
      status = take(&options->emit_format);
      if (status.ok() && options->emit_format != "json" && options->emit_format != "cc")
        return Status::Error("--emit-schema " + options->emit_format + ": expected json or cc");
    } else if (arg == "-o" || arg == "--output") {
      status = take(&options->output);
    } else if (arg == "-I" || arg == "--include-dir") {
      std::string dir;
      status = take(&dir);
      options->include_dirs.push_back(dir);
    } else if (arg.rfind("-I", 0) == 0 && arg.size() > 2) {
      options->include_dirs.push_back(arg.substr(2));
    } else if (arg == "-d" || arg == "--data") {
      status = take(&options->data);
      options->data_given = true;
    } else if (arg == "--thrift-transport-factory" || arg == "--transport") {
      status = take(&options->stack.transport);
    } else if (arg == "--thrift-protocol-factory" || arg == "--protocol") {
      status = take(&options->stack.protocol);
    } else if (arg == "--tls") {
      options->stack.tls.enabled = true;
    } else if (arg == "--cacert" || arg == "--cert" || arg == "--key") {
      TlsOptions& tls = options->stack.tls;
      status = take(arg == "--cacert" ? &tls.cacert : arg == "--cert" ? &tls.cert : &tls.key);
      tls.enabled = true;
      const std::string& path = arg == "--cacert" ? tls.cacert
                                : arg == "--cert" ? tls.cert
                                                  : tls.key;
      if (status.ok() && access(path.c_str(), R_OK) != 0)
        return Status::FromErrno(arg + " " + path, errno);
    } else if (arg == "--insecure" || arg == "-k") {
      options->stack.tls.insecure = true;
      options->stack.tls.enabled = true;
    } else if (arg == "--multiplexed") {
      options->multiplexed = true;
    } else if (arg == "--timeout") {
      std::string text;
      status = take(&text);
      if (!status.ok()) return status;
      char* end = nullptr;
      errno = 0;
      double seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0 || !(seconds > 0) || seconds > 86400)
        return Status::Error("--timeout " + text + ": expected seconds, more than 0");
      options->stack.timeout_ms = std::max(1, static_cast<int>(std::lround(seconds * 1000)));
    } else if (arg == "-v" || arg == "--verbose") {
      options->stack.verbose = true;
    } else if (arg == "--pretty") {
      options->pretty = true;
    } else if (arg == "--list") {
      list = true;
    } else if (arg == "--describe") {
      describe = true;
      status = take(&options->target);
    } else if (arg == "--probe") {
      probe = true;
    } else if (arg == "--") {
      operands.insert(operands.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      return Status::Error("unknown option " + arg + " (thriftd call --help)");
    } else {
      operands.push_back(args[i]);
    }
    if (!status.ok()) return status;
  }
  bool emit = !options->emit_format.empty();
  if (list + describe + probe + emit > 1)
    return Status::Error("--list, --describe, --probe and --emit-schema exclude each other");
  if (schema_from_flag && !options->idl.empty())
    return Status::Error("--idl and --schema-from exclude each other");
  if (!options->idl.empty()) options->schema_from.clear();  // over THRIFTD_SCHEMA_FROM
  bool has_schema = !options->idl.empty() || !options->schema_from.empty();
  if (!options->output.empty() && !emit) return Status::Error("-o goes with --emit-schema only");
  if (!options->stack.tls.key.empty() && options->stack.tls.cert.empty())
    return Status::Error("--key " + options->stack.tls.key + " needs --cert");
  if (list || describe || emit) {
    options->mode = list ? Mode::kList : describe ? Mode::kDescribe : Mode::kEmitSchema;
    if (!has_schema) {
      return Status::Error((list       ? "--list"
                            : describe ? "--describe"
                                       : "--emit-schema") +
                           std::string(" needs --idl FILE or --schema-from HOST:PORT"));
    }
    // An address before them is allowed (the same line with --list added), and ignored.
    if (operands.size() > 1) return Status::Error("unexpected operand " + operands[1]);
    return Status::Ok();
  }
  if (operands.empty()) return Status::Error("no ADDRESS given (thriftd call --help)");
  options->stack.address = operands[0];
  if (probe) {
    options->mode = Mode::kProbe;
    if (operands.size() > 1) options->target = operands[1];
    if (operands.size() > 2) return Status::Error("unexpected operand " + operands[2]);
    if (!options->target.empty() && !has_schema)
      return Status::Error("--probe " + options->target +
                           " needs --idl or --schema-from (without a method it does not)");
    return Status::Ok();
  }
  options->mode = Mode::kCall;
  if (operands.size() < 2) return Status::Error("no SERVICE.METHOD given (thriftd call --help)");
  options->target = operands[1];
  if (operands.size() > 2) {
    if (options->data_given)
      return Status::Error("arguments given twice: as an operand and with -d");
    options->data = operands[2];
    options->data_given = true;
  }
  if (operands.size() > 3) return Status::Error("unexpected operand " + operands[3]);
  if (!has_schema) {
    return Status::Error(
        "a call needs --idl FILE (the service's .thrift, or its .json schema) or --schema-from "
        "HOST:PORT (a thriftd's metrics endpoint serving the App's schema; or " +
        std::string(kSchemaFromEnv) + ")");
  }
  return Status::Ok();
}

}  // namespace thriftd::call
