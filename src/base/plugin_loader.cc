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
  // NAME is the tail of identifiers joined by "::" (`svc::KvApp`, perhaps
  // `::svc::KvApp`) after a single colon; walk it back one identifier at a time.
  size_t start = text.size();  // where the name found so far begins
  for (;;) {
    size_t ident = start;
    while (ident > 0 &&
           (std::isalnum(static_cast<unsigned char>(text[ident - 1])) || text[ident - 1] == '_'))
      --ident;
    if (!IsIdentifier(text.substr(ident, start - ident))) return spec;
    if (ident == 0 || text[ident - 1] != ':') return spec;
    bool qualified = ident >= 2 && text[ident - 2] == ':';
    if (!qualified || (ident >= 3 && text[ident - 3] == ':')) {
      // The path's colon (and, when qualified, a leading "::" after it).
      spec.path = text.substr(0, ident - (qualified ? 3 : 1));
      spec.name = text.substr(ident);
      break;
    }
    start = ident - 2;
  }
  // No class can be called `default` (a keyword): it names the default entry.
  if (spec.name == "default") spec.name.clear();
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
  const void* entry = nullptr;
  std::string known;  // the names the object lists, for the error
  using ListFunction = const PluginEntryLink* (*)();
  void* list = kind.list_symbol != nullptr ? dlsym(handle, kind.list_symbol) : nullptr;
  if (list != nullptr) {
    // The object lists its entries: the first one, or the one named.
    for (const PluginEntryLink* link = reinterpret_cast<ListFunction>(list)(); link != nullptr;
         link = link->next) {
      std::string name = static_cast<const PluginEntryHead*>(link->entry)->name;
      // THRIFTD_APP(::svc::KvApp) names it "::svc::KvApp"; the spec drops the "::".
      if (name.compare(0, 2, "::") == 0) name.erase(0, 2);
      if (spec.name.empty() || spec.name == name) {
        entry = link->entry;
        break;
      }
      known += (known.empty() ? "" : ", ") + name;
    }
  }
  // Objects without entries in a list (built for an older ABI, and other
  // kinds) export each entry as PREFIX_NAME, and PREFIX_default points at
  // the default one.
  std::string prefix = kind.symbol_prefix;
  std::string symbol = prefix + "_" + (spec.name.empty() ? "default" : spec.name);
  void* address = entry != nullptr ? nullptr : dlsym(handle, symbol.c_str());
  if (address != nullptr) {
    entry = spec.name.empty() ? *static_cast<const void* const*>(address) : address;
  }
  if (entry == nullptr && kind.list_symbol != nullptr) {
    return fail_loaded(spec.name.empty() ? std::string("no ") + kind.display + " exported (use " +
                                               kind.macro + ")"
                       : known.empty() ? std::string("no ") + kind.display + " named " + spec.name
                                       : std::string("no ") + kind.display + " named " + spec.name +
                                             " (it exports " + known + ")");
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
  if (version < kind.oldest_abi_version || version > kind.abi_version) {
    std::string loads = kind.oldest_abi_version == kind.abi_version
                            ? "version " + std::to_string(kind.abi_version)
                            : "versions " + std::to_string(kind.oldest_abi_version) + " to " +
                                  std::to_string(kind.abi_version);
    return fail_loaded(std::string("built for ") + kind.display + " ABI version " +
                       std::to_string(version) + ", this thriftd loads " + loads);
  }
  *handle_out = handle;
  *entry_out = entry;
  return Status::Ok();
}

}  // namespace thriftd
