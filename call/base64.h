// Base64 (RFC 4648, the standard alphabet, padded) for binary values in
// `thriftd call`'s JSON.
#ifndef THRIFTD_CALL_BASE64_H_
#define THRIFTD_CALL_BASE64_H_

#include <string>

namespace thriftd::call {

std::string Base64Encode(const std::string& bytes);
/// False on a character outside the alphabet or a bad length; padding may
/// be left out, as many encoders do.
bool Base64Decode(const std::string& text, std::string* bytes);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_BASE64_H_
