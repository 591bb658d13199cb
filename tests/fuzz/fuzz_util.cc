#include "tests/fuzz/fuzz_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace thriftd_fuzz {

std::vector<std::string> SplitAtNul(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      parts.emplace_back();
    } else {
      parts.back().push_back(static_cast<char>(data[i]));
    }
  }
  return parts;
}

namespace {

std::string MakeScratch() {
  char name[] = "/tmp/thriftd-fuzz.XXXXXX";
  if (mkdtemp(name) == nullptr) Fail(std::string("mkdtemp: ") + std::strerror(errno));
  static std::string path = name;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  });
  if (chdir(name) != 0) Fail(std::string("chdir: ") + std::strerror(errno));
  return path;
}

}  // namespace

const std::string& ScratchDirectory() {
  static const std::string path = MakeScratch();
  return path;
}

void WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Fail("open " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail("write " + path + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (close(fd) != 0) Fail("close " + path + ": " + std::strerror(errno));
}

void Fail(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

}  // namespace thriftd_fuzz
