// --check-config's trial start of the App: in a child, as a worker starts it,
// with the worker's error lines; the child never outlives the trial.
#include "src/app_trial.h"
#include "tests/unit/test_util.h"

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace thriftd {
namespace {

std::string TestApp(const std::string& file) {
  const char* dir = std::getenv("THRIFTD_TEST_APPS");
  REQUIRE_MESSAGE(dir != nullptr, "THRIFTD_TEST_APPS is unset; run through meson test");
  return std::string(dir) + "/" + file;
}

std::string Trial(const std::string& spec, std::string* name = nullptr) {
  WorkerSettings settings;
  settings.app = spec;
  std::string ignored;
  Status status = TryApp(settings, {thriftd::ListenerSettings{}}, /*timeout=*/10, std::nullopt, name ? name : &ignored);
  // Reaped, whatever happened.
  CHECK(waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  return status.ok() ? "ok" : status.message();
}

TEST_CASE("TryApp starts a good App in a child and names it") {
  std::string name;
  CHECK(Trial(TestApp("libgood_app.so"), &name) == "ok");
  CHECK(name == "GoodApp");
  CHECK(Trial(TestApp("libtwo_apps.so:SecondApp"), &name) == "ok");
  CHECK(name == "SecondApp");
}

TEST_CASE("TryApp fails with the line a worker would report") {
  std::string path = TestApp("libthrowing_app.so");
  CHECK(Trial(path) == "cannot load app " + path +
                           ": App constructor threw: database unreachable: connection refused");
  path = TestApp("libno_such_app.so");
  CHECK(Trial(path).rfind("cannot load app " + path + ": ", 0) == 0);
}

TEST_CASE("TryApp loads the App only in the child") {
  // A worker loads the App after fork; so does the trial: nothing of it is
  // left in the checking process.
  CHECK(Trial(TestApp("libgood_app.so")) == "ok");
  // Plugins load from a private copy (a memfd named after the file), which
  // dlopen(RTLD_NOLOAD) of the path would not find: the mappings tell.
  std::string maps = thriftd_test::ReadFile("/proc/self/maps");
  CHECK(maps.find("libgood_app.so") == std::string::npos);
}

}  // namespace
}  // namespace thriftd
