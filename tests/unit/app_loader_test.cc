// Loading an App from a shared object: PATH.so[:NAME]. The test objects are
// built in tests/unit/apps; THRIFTD_TEST_APPS names the directory holding them.
#include "src/base/app_loader.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

std::string TestApp(const std::string& file) {
  const char* dir = std::getenv("THRIFTD_TEST_APPS");
  REQUIRE_MESSAGE(dir != nullptr, "THRIFTD_TEST_APPS is unset; run through meson test");
  return std::string(dir) + "/" + file;
}

std::string LoadError(const std::string& spec) {
  LoadedApp loaded;
  Status status = LoadApp(spec, &loaded);
  CHECK(loaded.object == nullptr);
  return status.ok() ? "loaded" : status.message();
}

TEST_CASE("ParseAppSpec splits PATH.so[:NAME] at the last colon") {
  PluginSpec spec = ParsePluginSpec("lib.so");
  CHECK(spec.path == "lib.so");
  CHECK(spec.name == "");

  spec = ParsePluginSpec("lib.so:Name");
  CHECK(spec.path == "lib.so");
  CHECK(spec.name == "Name");

  spec = ParsePluginSpec("/opt/apps/libkv.so:KeyValue_2");
  CHECK(spec.path == "/opt/apps/libkv.so");
  CHECK(spec.name == "KeyValue_2");
}

TEST_CASE("ParseAppSpec does not split at a colon that starts no identifier") {
  // A colon inside a directory name.
  PluginSpec spec = ParsePluginSpec("./a:b/lib.so");
  CHECK(spec.path == "./a:b/lib.so");
  CHECK(spec.name == "");

  spec = ParsePluginSpec("lib.so:");
  CHECK(spec.path == "lib.so:");
  CHECK(spec.name == "");

  spec = ParsePluginSpec("lib.so:2fast");
  CHECK(spec.path == "lib.so:2fast");
  CHECK(spec.name == "");

  spec = ParsePluginSpec("./a:b/lib.so:App");
  CHECK(spec.path == "./a:b/lib.so");
  CHECK(spec.name == "App");
}

TEST_CASE("a missing file is one line naming it") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("libmissing.so");
  CHECK(LoadError(path) == "cannot load app " + path + ": No such file or directory");
  CHECK(LoadError(path + ":Name") == "cannot load app " + path + ": No such file or directory");
}

TEST_CASE("a directory is not an App") {
  thriftd_test::TempDir dir;
  CHECK(LoadError(dir.path()) == "cannot load app " + dir.path() + ": is a directory");
}

TEST_CASE("a file that is not a shared object reports dlopen's reason") {
  thriftd_test::TempDir dir;
  // Longer than an ELF header, so that the loader reads it as one.
  std::string path = dir.Write("libtext.so", std::string(100, '#') + "\nnot an ELF object\n");
  // After "cannot load app PATH: ", dlerror()'s own text.
  CHECK(LoadError(path) == "cannot load app " + path + ": " + path + ": invalid ELF header");
  std::string tiny = dir.Write("libtiny.so", "text\n");
  CHECK(LoadError(tiny) == "cannot load app " + tiny + ": " + tiny + ": file too short");
}

TEST_CASE("an object without THRIFTD_APP says so") {
  std::string path = TestApp("libno_entry.so");
  CHECK(LoadError(path) == "cannot load app " + path +
                               ": no App exported (symbol thriftd_app_default missing; use "
                               "THRIFTD_APP)");
}

TEST_CASE("an unknown App name says which symbol is missing") {
  std::string path = TestApp("libgood_app.so");
  CHECK(LoadError(path + ":Missing") ==
        "cannot load app " + path + ": no App named Missing (symbol thriftd_app_Missing missing)");
}

TEST_CASE("an ABI version mismatch names both versions") {
  std::string path = TestApp("libabi_mismatch.so");
  CHECK(LoadError(path) == "cannot load app " + path +
                               ": built for App ABI version 999, this thriftd loads version 1");
  CHECK(LoadError(path + ":FutureApp") ==
        "cannot load app " + path +
            ": built for App ABI version 999, this thriftd loads version 1");
}

TEST_CASE("an App constructor's exception is reported with its message") {
  std::string path = TestApp("libthrowing_app.so");
  CHECK(LoadError(path) == "cannot load app " + path +
                               ": App constructor threw: database unreachable: connection refused");
}

TEST_CASE("a good App loads with its name and a processor factory") {
  std::string path = TestApp("libgood_app.so");
  LoadedApp loaded;
  Status status = LoadApp(path, &loaded);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(loaded.name == "GoodApp");
  CHECK(loaded.handle != nullptr);
  REQUIRE(loaded.object != nullptr);
  CHECK(loaded.object->ProcessorFactory() != nullptr);

  LoadedApp by_name;
  status = LoadApp(path + ":GoodApp", &by_name);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(by_name.name == "GoodApp");
}

TEST_CASE("the pingpong example loads as PingPongApp") {
  const char* path = std::getenv("THRIFTD_TEST_PINGPONG");
  REQUIRE_MESSAGE(path != nullptr, "THRIFTD_TEST_PINGPONG is unset; run through meson test");
  LoadedApp loaded;
  Status status = LoadApp(path, &loaded);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(loaded.name == "PingPongApp");
  REQUIRE(loaded.object != nullptr);
  CHECK(loaded.object->ProcessorFactory() != nullptr);
}

TEST_CASE("a bare file name is looked up as a path, not on the library path") {
  // "libc.so.6" would be found by dlopen() on the library path; thriftd means a file here.
  CHECK(LoadError("libc.so.6") == "cannot load app libc.so.6: No such file or directory");
}

TEST_CASE("an object exporting two Apps serves each by name, the first linked by default") {
  std::string path = TestApp("libtwo_apps.so");
  LoadedApp first, second, plain;
  Status status = LoadApp(path + ":FirstApp", &first);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(first.name == "FirstApp");
  status = LoadApp(path + ":SecondApp", &second);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(second.name == "SecondApp");
  CHECK(second.object->ProcessorFactory() != nullptr);
  status = LoadApp(path, &plain);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(plain.name == "FirstApp");
}

// Regression (src/app_loader.cc, LoadApp, fixed): PATH.so:default looks up the symbol
// thriftd_app_default, which is a pointer to an AppEntry, and reads it as an
// AppEntry: the pointer's low bytes become the "ABI version" ("built for App
// ABI version 1404038288, this thriftd loads version 1"). No App can be named
// `default` (a C++ keyword), so PATH.so:default should mean PATH.so's default App.
TEST_CASE("regression: PATH.so:default loads the default App instead of misreading its pointer") {
  std::string path = TestApp("libgood_app.so");
  LoadedApp loaded;
  Status status = LoadApp(path + ":default", &loaded);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(loaded.name == "GoodApp");
}

}  // namespace
}  // namespace thriftd
