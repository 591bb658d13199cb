// The port file: one line per TCP listener, the port alone, replaced whole.
#include "src/port_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace thriftd {
namespace {

using thriftd_test::ReadFile;

std::vector<Listener> Listeners(std::vector<int> ports) {
  std::vector<Listener> listeners(ports.size());
  for (std::size_t i = 0; i < ports.size(); ++i) listeners[i].port = ports[i];
  return listeners;
}

TEST_CASE("the port file holds each TCP listener's port on a line, in order; unix ones none") {
  CHECK(PortFileText(Listeners({9042})) == "9042\n");
  CHECK(PortFileText(Listeners({9042, 0, 7})) == "9042\n7\n");
  CHECK(PortFileText(Listeners({0})) == "");
}

TEST_CASE("WritePortFile replaces the file whole, and says why it cannot") {
  thriftd_test::TempDir dir;
  std::string path = dir.path() + "/ports";
  REQUIRE(WritePortFile(path, Listeners({1, 2})).ok());
  CHECK(ReadFile(path) == "1\n2\n");
  REQUIRE(WritePortFile(path, Listeners({3})).ok());
  CHECK(ReadFile(path) == "3\n");
  struct stat st;
  CHECK(stat((path + ".tmp" + std::to_string(getpid())).c_str(), &st) != 0);  // nothing beside it
  // Readable by another user's script whatever the umask (ReplaceFile).
  mode_t old = umask(077);
  Status written = WritePortFile(path, Listeners({4}));
  umask(old);
  REQUIRE(written.ok());
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(WritePortFile("", Listeners({3})).ok());  // unset: nothing to do
  Status status = WritePortFile(dir.path() + "/missing/ports", Listeners({3}));
  CHECK(status.message() == "cannot write the port file " + dir.path() + "/missing/ports: open(" +
                                dir.path() + "/missing/ports.tmp" + std::to_string(getpid()) +
                                "): No such file or directory");
}

}  // namespace
}  // namespace thriftd
