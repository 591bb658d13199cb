// `thriftd call --schema-from`: the schema a thriftd serves at /schema on
// its metrics endpoint (an App's THRIFTD_SCHEMA), fetched over HTTP/1.0.
#ifndef THRIFTD_CALL_SCHEMA_FETCH_H_
#define THRIFTD_CALL_SCHEMA_FETCH_H_

#include <string>

#include "src/base/status.h"

namespace thriftd::call {

/// GETs /schema from `address` (HOST:PORT, [IPv6]:PORT or http://HOST:PORT,
/// the metrics endpoint's --metrics-bind) within `timeout_ms` for each of
/// connect, send and receive, into `*body`; `*url` is the URL it GETs
/// (http://HOST:PORT/schema, however `address` was spelled), for the
/// caller's errors about the body. A 404 (an App with no embedded schema) is
/// an error saying so, with the server's own line.
Status FetchSchema(const std::string& address, int timeout_ms, std::string* body, std::string* url);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_SCHEMA_FETCH_H_
