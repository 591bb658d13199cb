// A string as JSON text, for the few JSON documents thriftd writes by hand
// (the access log's json lines, /healthz): the master and the workers link
// no JSON library, and these documents are flat.
#ifndef THRIFTD_SRC_BASE_JSON_STRING_H_
#define THRIFTD_SRC_BASE_JSON_STRING_H_

#include <string>
#include <string_view>

namespace thriftd {

/// Appends `text` to *out as a JSON string: quoted, with quotes,
/// backslashes and control characters escaped.
void AppendJsonString(std::string* out, std::string_view text);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_JSON_STRING_H_
