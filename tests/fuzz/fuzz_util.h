// Small helpers the fuzz targets share.
#ifndef THRIFTD_TESTS_FUZZ_FUZZ_UTIL_H_
#define THRIFTD_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace thriftd_fuzz {

/// The input cut at each NUL byte (a command line's words, or fields).
std::vector<std::string> SplitAtNul(const std::uint8_t* data, std::size_t size);

/// A private directory, made once per process and removed at its exit,
/// that the target's process works in (so a relative path names nothing
/// outside it).
const std::string& ScratchDirectory();

/// Writes `text` to `path`, replacing it; aborts on an error.
void WriteFile(const std::string& path, const std::string& text);

/// Prints `what` and the details, and aborts (libFuzzer saves the input).
[[noreturn]] void Fail(const std::string& what);

}  // namespace thriftd_fuzz

#endif  // THRIFTD_TESTS_FUZZ_FUZZ_UTIL_H_
