// Helpers shared by the unit tests: a scratch directory and small file I/O.
#ifndef THRIFTD_TESTS_UNIT_TEST_UTIL_H_
#define THRIFTD_TESTS_UNIT_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace thriftd_test {

/// A fresh directory from mkdtemp(), removed with everything in it when the
/// test ends.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/thriftd-unit-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// PATH/name.
  std::string Join(const std::string& name) const { return path_ + "/" + name; }
  /// Writes `text` to PATH/name and returns that path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = Join(name);
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline bool Exists(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ignored));
}

}  // namespace thriftd_test

#endif  // THRIFTD_TESTS_UNIT_TEST_UTIL_H_
