#include "src/app_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace thriftd {
namespace {

bool IsIdentifier(const std::string& text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  for (char c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

AppSpec ParseAppSpec(const std::string& text) {
  AppSpec spec{text, ""};
  size_t colon = text.rfind(':');
  if (colon != std::string::npos && IsIdentifier(text.substr(colon + 1))) {
    spec.path = text.substr(0, colon);
    spec.name = text.substr(colon + 1);
    // No App class can be called `default` (a keyword): it names the default App.
    if (spec.name == "default") spec.name.clear();
  }
  return spec;
}

Status LoadApp(const std::string& spec_text, LoadedApp* loaded) {
  AppSpec spec = ParseAppSpec(spec_text);
  auto fail = [&](const std::string& why) {
    return Status::Error("cannot load app " + spec.path + ": " + why);
  };
  struct stat st;
  if (stat(spec.path.c_str(), &st) != 0) return fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail("is a directory");
  // dlopen() searches the library path for a bare name; the operator meant the file.
  std::string open_path = spec.path.find('/') == std::string::npos ? "./" + spec.path : spec.path;

  dlerror();
  void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return fail(why ? why : "dlopen failed");
  }
  auto fail_loaded = [&](const std::string& why) {
    dlclose(handle);
    return fail(why);
  };
  std::string symbol = spec.name.empty() ? "thriftd_app_default" : "thriftd_app_" + spec.name;
  void* address = dlsym(handle, symbol.c_str());
  const AppEntry* entry = nullptr;
  if (address != nullptr) {
    entry = spec.name.empty() ? *static_cast<const AppEntry* const*>(address)
                              : static_cast<const AppEntry*>(address);
  }
  if (entry == nullptr) {
    return fail_loaded(spec.name.empty()
                           ? "no App exported (symbol thriftd_app_default missing; use THRIFTD_APP)"
                           : "no App named " + spec.name + " (symbol " + symbol + " missing)");
  }
  if (entry->abi_version != kAppAbiVersion) {
    return fail_loaded("built for App ABI version " + std::to_string(entry->abi_version) +
                       ", this thriftd loads version " + std::to_string(kAppAbiVersion));
  }
  try {
    loaded->app.reset(entry->create());
  } catch (const std::exception& error) {
    return fail_loaded(std::string("App constructor threw: ") + error.what());
  } catch (...) {
    return fail_loaded("App constructor threw an unknown exception");
  }
  loaded->handle = handle;
  loaded->name = entry->name;
  return Status::Ok();
}

}  // namespace thriftd
