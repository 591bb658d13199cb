// Loading an App from a shared object: PATH.so[:NAME]. The test objects are
// built in tests/unit/apps; THRIFTD_TEST_APPS names the directory holding them.
#include "src/base/app_loader.h"

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace thriftd {
namespace {

std::string TestApp(const std::string& file) {
  const char* dir = std::getenv("THRIFTD_TEST_APPS");
  REQUIRE_MESSAGE(dir != nullptr, "THRIFTD_TEST_APPS is unset; run through meson test");
  return std::string(dir) + "/" + file;
}

// What `cp source path` does to an existing file: truncates the same inode
// and writes the new bytes into it (open O_TRUNC, no new file).
void OverwriteInPlace(const std::string& path, const std::string& bytes) {
  struct stat before;
  REQUIRE(stat(path.c_str(), &before) == 0);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  struct stat after;
  REQUIRE(stat(path.c_str(), &after) == 0);
  REQUIRE(after.st_ino == before.st_ino);
}

// A test App copied to dir/name, as an operator deploys one.
std::string Deploy(const thriftd_test::TempDir& dir, const std::string& app,
                   const std::string& name) {
  std::string path = dir.Join(name);
  std::filesystem::copy_file(TestApp(app), path);
  return path;
}

// The name glibc knows the object by: "/proc/PID/fd/N" for a private copy.
std::string LoadedName(void* handle) {
  link_map* map = nullptr;
  REQUIRE(dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0);
  return map->l_name;
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

TEST_CASE("ParseAppSpec takes a namespaced class name whole") {
  PluginSpec spec = ParsePluginSpec("lib.so:svc::KvApp");
  CHECK(spec.path == "lib.so");
  CHECK(spec.name == "svc::KvApp");

  spec = ParsePluginSpec("./a:b/lib.so:outer::inner::App_2");
  CHECK(spec.path == "./a:b/lib.so");
  CHECK(spec.name == "outer::inner::App_2");

  // A leading "::" (the global namespace) is dropped.
  spec = ParsePluginSpec("lib.so:::svc::KvApp");
  CHECK(spec.path == "lib.so");
  CHECK(spec.name == "svc::KvApp");

  // A component that is no identifier: no name at all.
  spec = ParsePluginSpec("lib.so:2svc::KvApp");
  CHECK(spec.path == "lib.so:2svc::KvApp");
  CHECK(spec.name == "");
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

TEST_CASE("an object needing a symbol nothing defines names the file and the symbol") {
  std::string path = TestApp("libundefined_symbol.so");
  CHECK(LoadError(path) == "cannot load app " + path + ": " + path +
                               ": undefined symbol: thriftd_test_defined_nowhere");
}

TEST_CASE("a missing C++ symbol is named as its source spells it too") {
  std::string path = TestApp("libundefined_cxx_symbol.so");
  CHECK(LoadError(path) == "cannot load app " + path + ": " + path +
                               ": undefined symbol: _ZN7billing6ChargeEi (billing::Charge(int))");
}

TEST_CASE("a FIFO is not an App, and opening it does not wait for a writer") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("libfifo.so");
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);
  CHECK(LoadError(path) == "cannot load app " + path + ": is not a regular file");
}

TEST_CASE("an unreadable file says so") {
  thriftd_test::TempDir dir;
  REQUIRE(chmod(dir.path().c_str(), 0755) == 0);  // the unprivileged child may look in
  std::string path = Deploy(dir, "libgood_app.so", "libsecret.so");
  REQUIRE(chmod(path.c_str(), 0) == 0);
  CHECK(thriftd_test::AsUnprivileged([&] { return LoadError(path); }) ==
        "cannot load app " + path + ": Permission denied");
}

TEST_CASE("an object without THRIFTD_APP says so") {
  std::string path = TestApp("libno_entry.so");
  CHECK(LoadError(path) == "cannot load app " + path + ": no App exported (use THRIFTD_APP)");
}

TEST_CASE("an unknown App name lists the Apps the object exports") {
  std::string path = TestApp("libgood_app.so");
  CHECK(LoadError(path + ":Missing") ==
        "cannot load app " + path + ": no App named Missing (it exports GoodApp)");
  path = TestApp("libnamespaced_apps.so");
  CHECK(LoadError(path + ":KvApp") ==
        "cannot load app " + path + ": no App named KvApp (it exports svc::KvApp, PlainApp)");
}

TEST_CASE("an ABI version mismatch names both versions") {
  std::string path = TestApp("libabi_mismatch.so");
  CHECK(LoadError(path) ==
        "cannot load app " + path +
            ": built for App ABI version 999, this thriftd loads versions 1 to 2");
  CHECK(LoadError(path + ":FutureApp") ==
        "cannot load app " + path +
            ": built for App ABI version 999, this thriftd loads versions 1 to 2");
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

TEST_CASE("THRIFTD_APP exports a namespaced class, and twice from one source file") {
  std::string path = TestApp("libnamespaced_apps.so");
  LoadedApp kv, plain, first;
  Status status = LoadApp(path + ":svc::KvApp", &kv);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(kv.name == "svc::KvApp");
  CHECK(kv.abi_version == kAppAbiVersion);
  status = LoadApp(path + ":PlainApp", &plain);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(plain.name == "PlainApp");
  CHECK(plain.object->ProcessorFactory() != nullptr);
  // Without a name, the first one registered in the file.
  status = LoadApp(path, &first);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(first.name == "svc::KvApp");
}

TEST_CASE("an App built against ABI version 1 still loads, by name or as the default") {
  std::string path = TestApp("libabi1_app.so");
  LoadedApp old, named;
  Status status = LoadApp(path, &old);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(old.name == "OldApp");
  CHECK(old.abi_version == 1);
  CHECK(old.object->ProcessorFactory() != nullptr);
  status = LoadApp(path + ":OldApp", &named);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(named.abi_version == 1);
}

TEST_CASE("an App overwritten in place keeps running: it was loaded from a private copy") {
  thriftd_test::TempDir dir;
  std::string path = Deploy(dir, "libgood_app.so", "libdeployed.so");
  LoadedApp loaded;
  Status status = LoadApp(path, &loaded);
  REQUIRE_MESSAGE(status.ok(), status.message());
  // Shorter than the object: had its pages come from this inode, touching
  // them now would be past its end (SIGBUS) once the truncation dropped them.
  OverwriteInPlace(path, std::string(100, '#'));

  REQUIRE(loaded.object->ProcessorFactory() != nullptr);  // runs the object's code
  LoadedApp again;
  status = LoadApp(path, &again);
  CHECK(status.message() == "cannot load app " + path + ": " + path + ": invalid ELF header");

  // The object maps its copy, a memfd named after the file, never the file.
  std::string maps = thriftd_test::ReadFile("/proc/self/maps");
  CHECK(maps.find(path) == std::string::npos);
  CHECK(maps.find("/memfd:libdeployed.so (deleted)") != std::string::npos);
  std::string name = LoadedName(loaded.handle);
  CHECK(name.rfind("/proc/" + std::to_string(getpid()) + "/fd/", 0) == 0);
  std::error_code ignored;
  CHECK(std::filesystem::read_symlink(name, ignored) == "/memfd:libdeployed.so (deleted)");
}

TEST_CASE("a file rewritten since it was loaded is loaded afresh, an unchanged one is not") {
  thriftd_test::TempDir dir;
  std::string path = Deploy(dir, "libgood_app.so", "libdeployed.so");
  LoadedApp first, unchanged;
  Status status = LoadApp(path, &first);
  REQUIRE_MESSAGE(status.ok(), status.message());
  status = LoadApp(path, &unchanged);
  REQUIRE_MESSAGE(status.ok(), status.message());
  // One copy, one object: the master loads a custom kind for every fork.
  CHECK(unchanged.handle == first.handle);

  // A deployment (as a HUP's new workers see it): other code, same path.
  OverwriteInPlace(path, thriftd_test::ReadFile(TestApp("libtwo_apps.so")));
  LoadedApp deployed;
  status = LoadApp(path, &deployed);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(deployed.name == "FirstApp");
  CHECK(deployed.handle != first.handle);
  CHECK(first.object->ProcessorFactory() != nullptr);  // the first copy still runs
}

// The master loads a custom worker kind from its copy, /proc/MASTER/fd/N, and
// forks; the worker closes N with everything else it inherits, and may get N
// again for its App's copy. glibc knows loaded objects by name: under
// /proc/self/fd/N it would hand the worker the kind's object as its App.
TEST_CASE("a forked child's copy is not mistaken for one it inherited, under the same number") {
  thriftd_test::TempDir dir;
  // A file of its own, so that the copy is made now: the file LoadApp opens
  // takes the lowest free number, the copy the next, and the file's closes.
  std::string path = Deploy(dir, "libgood_app.so", "libparent.so");
  LoadedApp parents;
  Status status = LoadApp(path, &parents);
  REQUIRE_MESSAGE(status.ok(), status.message());
  std::string name = LoadedName(parents.handle);
  int number = std::stoi(name.substr(name.rfind('/') + 1));
  std::string child_app = TestApp("libtwo_apps.so");

  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No doctest macro here (a failure would run the rest of the tests in
    // the child): the exit code says how it went. 0: right; 1: a wrong App
    // or an error; 2: the copy did not get `number`, so nothing was tested.
    close(number);  // as a worker closes what it inherits
    // Take every free number below `number` but the last, which goes to the
    // file LoadApp opens, and `number` to its copy.
    std::vector<int> held;
    for (int fd = open("/dev/null", O_RDONLY); fd >= 0 && fd != number;
         fd = open("/dev/null", O_RDONLY)) {
      held.push_back(fd);
    }
    close(number);
    if (!held.empty()) close(held.back());
    LoadedApp own;
    Status loaded = LoadApp(child_app, &own);
    if (!loaded.ok() || own.name != "FirstApp") _exit(1);
    link_map* map = nullptr;
    if (dlinfo(own.handle, RTLD_DI_LINKMAP, &map) != 0) _exit(1);
    std::string own_name = map->l_name;
    _exit(own_name.substr(own_name.rfind('/') + 1) == std::to_string(number) ? 0 : 2);
  }
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  REQUIRE(WIFEXITED(wait_status));
  CHECK(WEXITSTATUS(wait_status) == 0);
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
