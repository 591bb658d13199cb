#include "src/base/plugin_loader.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <fcntl.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "src/base/private_copy.h"
#include "src/base/unique_fd.h"

namespace thriftd {
namespace {

bool IsIdentifier(const std::string& text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  for (char c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// "…: undefined symbol: _ZN7billing6ChargeEi" names the mangled symbol; a
// service author knows `billing::Charge(int)`, so that follows it.
std::string DemangleUndefinedSymbol(const std::string& error) {
  static const std::string kMarker = "undefined symbol: ";
  size_t start = error.find(kMarker);
  if (start == std::string::npos) return error;
  start += kMarker.size();
  size_t end = error.find_first_of(" ,\t\n", start);
  if (end == std::string::npos) end = error.size();
  std::string symbol = error.substr(start, end - start);
  int status = 0;
  char* demangled = abi::__cxa_demangle(symbol.c_str(), nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return error;
  std::string readable = demangled;
  std::free(demangled);
  return error.substr(0, end) + " (" + readable + ")" + error.substr(end);
}

}  // namespace

PluginSpec ParsePluginSpec(const std::string& text) {
  PluginSpec spec{text, ""};
  size_t colon = text.rfind(':');
  if (colon != std::string::npos && IsIdentifier(text.substr(colon + 1))) {
    spec.path = text.substr(0, colon);
    spec.name = text.substr(colon + 1);
    // No class can be called `default` (a keyword): it names the default entry.
    if (spec.name == "default") spec.name.clear();
  }
  return spec;
}

Status PluginError(const PluginKind& kind, const std::string& spec_text, const std::string& why) {
  return Status::Error(std::string("cannot load ") + kind.noun + " " +
                       ParsePluginSpec(spec_text).path + ": " + why);
}

void ClosePlugin(void* handle) {
  if (handle != nullptr) dlclose(handle);
}

Status OpenPlugin(const PluginKind& kind, const std::string& spec_text, void** handle_out,
                  const void** entry_out) {
  PluginSpec spec = ParsePluginSpec(spec_text);
  auto fail = [&](const std::string& why) { return PluginError(kind, spec_text, why); };
  // A path, even a bare name: dlopen() would search the library path for
  // one, but the operator named a file. O_NONBLOCK: a FIFO named by mistake
  // must not hang the open (it is refused below).
  UniqueFd file(open(spec.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!file.valid()) return fail(std::strerror(errno));
  // dlopen() of the file itself would map it, and `cp new.so` over it
  // (truncating and rewriting that inode) would crash the code running
  // from it: the object is loaded from the process's own copy instead.
  std::string load_path;
  Status copied = PrivateCopyOf(file.get(), spec.path, &load_path);
  if (!copied.ok()) return fail(copied.message());

  dlerror();
  void* handle = dlopen(load_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    // dlerror() names the copy ("/proc/PID/fd/N: invalid ELF header"); the
    // operator knows the file.
    std::string why =
        error ? DemangleUndefinedSymbol(ReplaceAll(error, load_path, spec.path)) : "dlopen failed";
    // Nothing is loaded under the copy's name: its number may be reused.
    DropPrivateCopy(load_path);
    return fail(why);
  }
  auto fail_loaded = [&](const std::string& why) {
    dlclose(handle);
    return fail(why);
  };
  std::string prefix = kind.symbol_prefix;
  std::string symbol = prefix + "_" + (spec.name.empty() ? "default" : spec.name);
  void* address = dlsym(handle, symbol.c_str());
  // PREFIX_default is a pointer to the default entry; PREFIX_NAME is the entry.
  const void* entry = nullptr;
  if (address != nullptr) {
    entry = spec.name.empty() ? *static_cast<const void* const*>(address) : address;
  }
  if (entry == nullptr) {
    return fail_loaded(spec.name.empty()
                           ? std::string("no ") + kind.display + " exported (symbol " + symbol +
                                 " missing; use " + kind.macro + ")"
                           : std::string("no ") + kind.display + " named " + spec.name +
                                 " (symbol " + symbol + " missing)");
  }
  // Every entry struct starts with its ABI version.
  std::uint32_t version = *static_cast<const std::uint32_t*>(entry);
  if (version != kind.abi_version) {
    return fail_loaded(std::string("built for ") + kind.display + " ABI version " +
                       std::to_string(version) + ", this thriftd loads version " +
                       std::to_string(kind.abi_version));
  }
  *handle_out = handle;
  *entry_out = entry;
  return Status::Ok();
}

}  // namespace thriftd
