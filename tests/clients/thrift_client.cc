// thriftd_test_client: a command-line Thrift client for the integration tests.
//
//   thriftd_test_client (--host H --port N | --unix PATH)
//       [--transport buffered|framed|header|zlib] [--protocol binary|compact|json|header]
//       [--transform zlib] [--timeout-ms N] [--multiplexed]
//       [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] COMMAND...
//
// --tls-ca speaks TLS (Apache Thrift's TSSLSocket), verifying the server
// against FILE's CAs; --tls-cert and --tls-key present a client certificate.
// The commands run in order on one connection, each printing one line:
//   ping          -> pong             add A B    -> A+B
//   echo N        -> echo N ok        sleep MS   -> slept MS
//   set K V       -> ok               get K      -> the value, or "NotFoundError K"
//   repeat N ping -> pong xN
//   count         -> N (Admin.keyCount)  clear -> ok, or "Refused WHY" (Admin.clear)
// --multiplexed: the calls go through Apache Thrift's TMultiplexedProtocol,
// PingPong's as "pingpong", KeyValue's as "kv", Admin's as "admin" (the
// names examples/services exports).
// --transform zlib: the header transport's zlib transform on every call
// (THeaderTransport::setTransform), with the header transport or protocol.
// Exit codes: 0 success, 1 a Thrift error or a wrong reply (message on
// stderr), 2 a usage error.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <thrift/Thrift.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TZlibTransport.h>

#include <thrift/protocol/TMultiplexedProtocol.h>

#include "Admin.h"
#include "KeyValue.h"
#include "PingPong.h"

namespace {

using apache::thrift::protocol::TProtocol;
using apache::thrift::transport::TTransport;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: thriftd_test_client (--host H --port N | --unix PATH)\n"
    "         [--transport buffered|framed|header|zlib] [--protocol binary|compact|json|header]\n"
    "         [--transform zlib] [--timeout-ms N] [--multiplexed]\n"
    "         [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] COMMAND...\n"
    "commands: ping | add A B | echo N | sleep MS | set K V | get K | repeat N ping\n"
    "          | count | clear\n";

/// A command line that cannot be run; main() prints it with the usage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A reply that arrived but is not the expected one.
struct WrongReply : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string unix_path;
  std::string transport = "buffered";
  std::string protocol = "binary";
  std::string transform;  // "" or "zlib"
  int timeout_ms = 10000;
  bool multiplexed = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::vector<std::string>> commands;
};

int ParseInt(const std::string& text, const std::string& what) {
  try {
    size_t end = 0;
    long value = std::stol(text, &end);
    if (end == text.size() && value >= INT32_MIN && value <= INT32_MAX) {
      return static_cast<int>(value);
    }
  } catch (const std::logic_error&) {
  }
  throw UsageError(what + " is not an integer: '" + text + "'");
}

/// Number of arguments each command takes after its name.
int Arity(const std::string& name) {
  if (name == "ping" || name == "count" || name == "clear") return 0;
  if (name == "echo" || name == "sleep" || name == "get") return 1;
  if (name == "add" || name == "set" || name == "repeat") return 2;
  throw UsageError("unknown command '" + name + "'");
}

Options ParseArgs(int argc, char** argv) {
  Options options;
  int i = 1;
  auto value = [&](const std::string& flag) -> std::string {
    if (i + 1 >= argc) throw UsageError(flag + " needs a value");
    return argv[++i];
  };
  for (; i < argc && std::string(argv[i]).rfind("--", 0) == 0; ++i) {
    std::string flag = argv[i];
    if (flag == "--host") {
      options.host = value(flag);
    } else if (flag == "--port") {
      options.port = ParseInt(value(flag), flag);
    } else if (flag == "--unix") {
      options.unix_path = value(flag);
    } else if (flag == "--transport") {
      options.transport = value(flag);
    } else if (flag == "--protocol") {
      options.protocol = value(flag);
    } else if (flag == "--transform") {
      options.transform = value(flag);
    } else if (flag == "--timeout-ms") {
      options.timeout_ms = ParseInt(value(flag), flag);
    } else if (flag == "--multiplexed") {
      options.multiplexed = true;
    } else if (flag == "--tls-ca") {
      options.tls_ca = value(flag);
    } else if (flag == "--tls-cert") {
      options.tls_cert = value(flag);
    } else if (flag == "--tls-key") {
      options.tls_key = value(flag);
    } else {
      throw UsageError("unknown option '" + flag + "'");
    }
  }
  if (options.port <= 0 && options.unix_path.empty()) {
    throw UsageError("give --port or --unix");
  }
  if (options.transport != "buffered" && options.transport != "framed" &&
      options.transport != "header" && options.transport != "zlib") {
    throw UsageError("unknown transport '" + options.transport + "'");
  }
  if (options.protocol != "binary" && options.protocol != "compact" && options.protocol != "json" &&
      options.protocol != "header") {
    throw UsageError("unknown protocol '" + options.protocol + "'");
  }
  while (i < argc) {
    std::vector<std::string> command{argv[i++]};
    int arity = Arity(command[0]);
    for (int k = 0; k < arity; ++k, ++i) {
      if (i >= argc) throw UsageError("'" + command[0] + "' needs more arguments");
      command.push_back(argv[i]);
    }
    if (command[0] == "add") {
      ParseInt(command[1], "add A");
      ParseInt(command[2], "add B");
    }
    if (command[0] == "echo" || command[0] == "sleep") ParseInt(command[1], command[0]);
    if (command[0] == "repeat") {
      ParseInt(command[1], "repeat N");
      if (command[2] != "ping") throw UsageError("only 'repeat N ping' is supported");
    }
    options.commands.push_back(command);
  }
  if (options.commands.empty()) throw UsageError("no command given");
  if (!options.tls_ca.empty() && !options.unix_path.empty())
    throw UsageError("--tls-ca needs --port");
  if (options.tls_cert.empty() != options.tls_key.empty() ||
      (!options.tls_cert.empty() && options.tls_ca.empty()))
    throw UsageError("--tls-cert and --tls-key go together, with --tls-ca");
  if (!options.transform.empty() &&
      (options.transform != "zlib" ||
       (options.protocol != "header" && options.transport != "header"))) {
    throw UsageError("--transform zlib needs the header transport or protocol");
  }
  if (options.protocol == "header" && options.transport != "header" &&
      options.transport != "framed") {
    throw UsageError("--protocol header needs --transport header or framed");
  }
  return options;
}

/// Builds the transport and protocol stack the options ask for; sets *opened
/// to the transport to open and close (the socket, possibly wrapped).
std::shared_ptr<TProtocol> MakeProtocol(const Options& options,
                                        std::shared_ptr<TTransport>* opened) {
  using namespace apache::thrift::protocol;
  using namespace apache::thrift::transport;
  std::shared_ptr<TSocket> socket;
  if (!options.tls_ca.empty()) {
    // Outlives every socket it makes: it holds OpenSSL's context.
    static std::shared_ptr<TSSLSocketFactory> factory;
    factory = std::make_shared<TSSLSocketFactory>(SSLTLS);
    factory->loadTrustedCertificates(options.tls_ca.c_str());
    factory->authenticate(true);  // verify the server against the CAs
    if (!options.tls_cert.empty()) {
      factory->loadCertificate(options.tls_cert.c_str());
      factory->loadPrivateKey(options.tls_key.c_str());
    }
    socket = factory->createSocket(options.host, options.port);
  } else if (options.unix_path.empty()) {
    socket = std::make_shared<TSocket>(options.host, options.port);
  } else {
    socket = std::make_shared<TSocket>(options.unix_path);
  }
  socket->setConnTimeout(options.timeout_ms);
  socket->setRecvTimeout(options.timeout_ms);
  socket->setSendTimeout(options.timeout_ms);

  if (options.protocol == "header") {
    // THeaderProtocol wraps what it is given in its own THeaderTransport
    // and, by Thrift's default, speaks compact inside it (the Python
    // harness: binary). Over framed, as Apache Thrift's TestClient does
    // (--transport=framed --protocol=header): each header frame inside a
    // framed frame.
    *opened = socket;
    if (options.transport == "framed") *opened = std::make_shared<TFramedTransport>(socket);
    auto protocol = std::make_shared<THeaderProtocol>(*opened);
    if (options.transform == "zlib") {
      std::static_pointer_cast<THeaderTransport>(protocol->getTransport())
          ->setTransform(THeaderTransport::ZLIB_TRANSFORM);
    }
    return protocol;
  }

  std::shared_ptr<TTransport> transport;
  if (options.transport == "buffered") {
    transport = std::make_shared<TBufferedTransport>(socket);
  } else if (options.transport == "framed") {
    transport = std::make_shared<TFramedTransport>(socket);
  } else if (options.transport == "zlib") {
    // As Apache Thrift's TestClient builds it (--transport=zlib --zlib).
    transport = std::make_shared<TZlibTransport>(std::make_shared<TBufferedTransport>(socket));
  } else {
    // The header names the payload's protocol, so that a THeaderProtocol
    // server decodes it right (THeaderTransport would say compact).
    auto header = std::make_shared<THeaderTransport>(socket);
    header->setProtocolId(options.protocol == "compact" ? T_COMPACT_PROTOCOL
                          : options.protocol == "json"  ? T_JSON_PROTOCOL
                                                        : T_BINARY_PROTOCOL);
    if (options.transform == "zlib") header->setTransform(THeaderTransport::ZLIB_TRANSFORM);
    transport = header;
  }
  *opened = transport;
  if (options.protocol == "compact") return std::make_shared<TCompactProtocol>(transport);
  if (options.protocol == "json") return std::make_shared<TJSONProtocol>(transport);
  return std::make_shared<TBinaryProtocol>(transport);
}

/// N bytes that differ from each other and from a repeated fill.
std::string EchoPattern(int size) {
  std::string data(static_cast<size_t>(size), '\0');
  for (int i = 0; i < size; ++i) data[i] = static_cast<char>((i * 31 + i / 256 + 7) & 0xff);
  return data;
}

/// The generated clients of the three example services, on one connection.
struct Clients {
  pingpong::PingPongClient& pingpong;
  keyvalue::KeyValueClient& keyvalue;
  admin::AdminClient& admin;
};

/// Runs one command and returns the line it prints.
std::string Run(const std::vector<std::string>& command, Clients& clients) {
  pingpong::PingPongClient& pingpong = clients.pingpong;
  keyvalue::KeyValueClient& keyvalue = clients.keyvalue;
  const std::string& name = command[0];
  if (name == "count") return std::to_string(clients.admin.keyCount());
  if (name == "clear") {
    try {
      clients.admin.clear();
      return "ok";
    } catch (const admin::Refused& e) {
      return "Refused " + e.why;
    }
  }
  if (name == "ping") {
    std::string reply;
    pingpong.ping(reply);
    return reply;
  }
  if (name == "add") {
    return std::to_string(pingpong.add(std::stoi(command[1]), std::stoi(command[2])));
  }
  if (name == "echo") {
    std::string sent = EchoPattern(std::stoi(command[1]));
    std::string reply;
    pingpong.echo(reply, sent);
    if (reply != sent) {
      throw WrongReply("echo " + command[1] + ": reply of " + std::to_string(reply.size()) +
                       " bytes differs from the request");
    }
    return "echo " + command[1] + " ok";
  }
  if (name == "sleep") {
    pingpong.sleep(std::stoi(command[1]));
    return "slept " + command[1];
  }
  if (name == "set") {
    keyvalue.setValue(command[1], command[2]);
    return "ok";
  }
  if (name == "get") {
    try {
      std::string value;
      keyvalue.getValue(value, command[1]);
      return value;
    } catch (const keyvalue::NotFoundError& e) {
      return "NotFoundError " + e.key;
    }
  }
  // repeat N ping
  int count = std::stoi(command[1]);
  for (int k = 0; k < count; ++k) {
    std::string reply;
    pingpong.ping(reply);
    if (reply != "pong") throw WrongReply("ping " + std::to_string(k) + " replied '" + reply + "'");
  }
  return "pong x" + command[1];
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = ParseArgs(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "thriftd_test_client: " << e.what() << "\n" << kUsage;
    return kExitUsage;
  }
  // what() says it all; Thrift's own log line would repeat it on stderr.
  apache::thrift::GlobalOutput.setOutputFunction([](const char*) {});
  try {
    std::shared_ptr<TTransport> transport;
    auto protocol = MakeProtocol(options, &transport);
    // Each service's calls named "service:method" when multiplexed.
    auto service = [&](const char* name) -> std::shared_ptr<TProtocol> {
      if (!options.multiplexed) return protocol;
      return std::make_shared<apache::thrift::protocol::TMultiplexedProtocol>(protocol, name);
    };
    pingpong::PingPongClient pingpong(service("pingpong"));
    keyvalue::KeyValueClient keyvalue(service("kv"));
    admin::AdminClient admin(service("admin"));
    Clients clients{pingpong, keyvalue, admin};
    transport->open();
    for (const auto& command : options.commands) {
      std::cout << Run(command, clients) << std::endl;
    }
    transport->close();
  } catch (const UsageError& e) {
    std::cerr << "thriftd_test_client: " << e.what() << "\n" << kUsage;
    return kExitUsage;
  } catch (const WrongReply& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitError;
  } catch (const apache::thrift::TException& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitError;
  }
  return 0;
}
