#include "call/schema_fetch.h"

#include <cstdio>

#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#include "call/connect_address.h"
#include "call/schema.h"

namespace thriftd::call {
namespace {

using apache::thrift::TException;
using apache::thrift::transport::TSocket;

// The first line of a body, for an error message.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line.size() > 200 ? line.substr(0, 197) + "..." : line;
}

}  // namespace

Status FetchSchema(const std::string& address, int timeout_ms, std::string* body,
                   std::string* url_out) {
  std::string where = address;
  if (where.rfind("http://", 0) == 0) where = where.substr(7);
  if (!where.empty() && where.back() == '/') where.pop_back();
  BindAddress parsed;
  if (!ParseConnectAddress(where, UnixSockets::kRefused, &parsed)) {
    return Status::Error("--schema-from " + address +
                         ": expected the metrics endpoint's HOST:PORT (its --metrics-bind)");
  }
  const std::string url = "http://" + where + "/schema";
  *url_out = url;
  std::string response;
  try {
    TSocket socket(parsed.host, parsed.port);
    socket.setConnTimeout(timeout_ms);
    socket.setRecvTimeout(timeout_ms);
    socket.setSendTimeout(timeout_ms);
    socket.open();
    std::string request = "GET /schema HTTP/1.0\r\nHost: " + where + "\r\n\r\n";
    socket.write(reinterpret_cast<const uint8_t*>(request.data()),
                 static_cast<uint32_t>(request.size()));
    uint8_t buffer[16384];
    // HTTP/1.0: the server closes the connection after the body.
    while (uint32_t n = socket.read(buffer, sizeof buffer)) {
      response.append(reinterpret_cast<const char*>(buffer), n);
      if (response.size() > kMaxSchemaBytes + 65536)
        return Status::Error(url + ": the schema is larger than " +
                             std::to_string(kMaxSchemaBytes) + " bytes");
    }
    socket.close();
  } catch (const TException& e) {
    return Status::Error("cannot fetch the schema from " + url + ": " + e.what());
  }
  size_t end_of_headers = response.find("\r\n\r\n");
  int code = 0;
  if (response.rfind("HTTP/1.", 0) != 0 || end_of_headers == std::string::npos ||
      std::sscanf(response.c_str(), "HTTP/1.%*d %d", &code) != 1) {
    // The usual cause: the Thrift port given for the metrics port. A
    // thriftd closes that connection on the GET without a word.
    std::string what = response.empty() ? "the server answered nothing"
                                        : "not an HTTP response: " + FirstLine(response);
    return Status::Error(url + ": " + what +
                         " (--schema-from names the metrics endpoint, --metrics-bind, not the "
                         "Thrift port)");
  }
  std::string content = response.substr(end_of_headers + 4);
  if (code == 404) return Status::Error(url + ": no schema there (" + FirstLine(content) + ")");
  if (code != 200)
    return Status::Error(url + ": HTTP " + std::to_string(code) + ": " + FirstLine(content));
  *body = std::move(content);
  return Status::Ok();
}

}  // namespace thriftd::call
