// The private copies plugins are loaded from: a memfd (or, without
// memfd_create, an unlinked temporary file), one per version of a file.
#include "src/base/private_copy.h"

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

std::string FdTarget(int fd) {
  std::error_code error;
  std::string target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), error);
  return error ? "" : target;
}

std::string Contents(int fd) {
  return thriftd_test::ReadFile("/proc/self/fd/" + std::to_string(fd));
}

TEST_CASE("a copy file is a memfd named after the plugin's file") {
  UniqueFd file;
  Status status = CreateCopyFile("libexample.so", &file);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(FdTarget(file.get()) == "/memfd:libexample.so (deleted)");
  CHECK((fcntl(file.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("without memfd_create, a copy is an unlinked temporary file in $TMPDIR, and loads") {
  thriftd_test::TempDir tmp;
  thriftd_test::ScopedEnvironment env;
  env.Set("TMPDIR", tmp.path());
  UniqueFd file;
  Status status = CreateTemporaryCopyFile("libgood_app.so", &file);
  REQUIRE_MESSAGE(status.ok(), status.message());
  std::string target = FdTarget(file.get());
  CHECK(target.rfind(tmp.Join("thriftd-libgood_app.so-"), 0) == 0);
  CHECK(target.size() > 10);
  CHECK(target.substr(target.size() - 10) == " (deleted)");
  CHECK(std::filesystem::is_empty(tmp.path()));  // nothing left behind
  CHECK((fcntl(file.get(), F_GETFD) & FD_CLOEXEC) != 0);

  const char* apps = std::getenv("THRIFTD_TEST_APPS");
  REQUIRE_MESSAGE(apps != nullptr, "THRIFTD_TEST_APPS is unset; run through meson test");
  UniqueFd source(open((std::string(apps) + "/libgood_app.so").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(source.valid());
  status = CopyContents(source.get(), file.get());
  REQUIRE_MESSAGE(status.ok(), status.message());
  void* handle = dlopen(("/proc/self/fd/" + std::to_string(file.get())).c_str(), RTLD_NOW);
  REQUIRE_MESSAGE(handle != nullptr, dlerror());
  CHECK(dlsym(handle, "thriftd_app_list") != nullptr);
  dlclose(handle);
}

TEST_CASE("CopyContents copies the whole file, wherever the source's offset is") {
  thriftd_test::TempDir dir;
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += static_cast<char>('a' + i % 26);
  std::string path = dir.Write("big.so", bytes);
  UniqueFd source(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(source.valid());
  char skipped[1000];
  REQUIRE(read(source.get(), skipped, sizeof skipped) == static_cast<ssize_t>(sizeof skipped));
  UniqueFd copy;
  Status status = CreateCopyFile("big.so", &copy);
  REQUIRE_MESSAGE(status.ok(), status.message());
  status = CopyContents(source.get(), copy.get());
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(Contents(copy.get()) == bytes);
}

TEST_CASE("one copy per version of a file: again when unchanged, afresh once rewritten") {
  thriftd_test::TempDir dir;
  std::string path = dir.Write("libversioned.so", "first version");
  UniqueFd source(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(source.valid());
  std::string first, again;
  Status status = PrivateCopyOf(source.get(), path, &first);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(first.rfind("/proc/" + std::to_string(getpid()) + "/fd/", 0) == 0);
  CHECK(thriftd_test::ReadFile(first) == "first version");
  status = PrivateCopyOf(source.get(), path, &again);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(again == first);

  // Rewritten in place (a longer text, so the size tells it even where the
  // clock did not move), as `cp` does.
  std::ofstream(path, std::ios::trunc) << "the second version";
  std::string second;
  status = PrivateCopyOf(source.get(), path, &second);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(second != first);
  CHECK(thriftd_test::ReadFile(second) == "the second version");
  // The first copy stays open: an object loaded under its name may still run.
  CHECK(thriftd_test::ReadFile(first) == "first version");

  DropPrivateCopy(second);
  CHECK(!thriftd_test::Exists(second));
  CHECK(thriftd_test::Exists(first));
}

TEST_CASE("only a regular file is copied") {
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  REQUIRE(null.valid());
  std::string load_path;
  Status status = PrivateCopyOf(null.get(), "/dev/null", &load_path);
  CHECK(status.message() == "is not a regular file");
}

}  // namespace
}  // namespace thriftd
