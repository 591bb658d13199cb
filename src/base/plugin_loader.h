// Loading a shared object that exports a thriftd entry point: an App
// (THRIFTD_APP) or a worker kind (THRIFTD_WORKER). Both are named
// `PATH.so[:NAME]` and fail the same ways, each as one line.
#ifndef THRIFTD_SRC_BASE_PLUGIN_LOADER_H_
#define THRIFTD_SRC_BASE_PLUGIN_LOADER_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "src/base/status.h"

namespace thriftd {

/// What is being loaded, for symbol names and messages.
struct PluginKind {
  const char* noun;                  ///< "app", "worker kind": "cannot load app PATH: ..."
  const char* display;               ///< "App", "worker kind": "no App named X"
  const char* symbol_prefix;         ///< "thriftd_app": entries are PREFIX_NAME, PREFIX_default
  const char* macro;                 ///< "THRIFTD_APP"
  std::uint32_t abi_version;         ///< what the entry's first member must hold...
  std::uint32_t oldest_abi_version;  ///< ...or any version from this one up
  /// An exported `const LINK* SYMBOL()` listing the object's entries (ABI
  /// 2 Apps: thriftd_app_list), tried before the PREFIX_NAME symbols; null
  /// for kinds that have none.
  const char* list_symbol;
};

/// The layout of a list node (AppEntryLink): the entry, the next node.
struct PluginEntryLink {
  const void* entry;
  const PluginEntryLink* next;
};

/// What every entry struct starts with.
struct PluginEntryHead {
  std::uint32_t abi_version;
  const char* name;
};

struct PluginSpec {
  std::string path;
  std::string name;  ///< empty: the object's default entry
};

/// Splits "PATH.so[:NAME]" (a colon in a directory name does not split).
/// NAME is an identifier or a qualified one (`svc::KvApp`, as THRIFTD_APP
/// names a namespaced class; a leading `::` is dropped).
PluginSpec ParsePluginSpec(const std::string& text);

/// Opens the object and finds its entry. The object is loaded from this
/// process's private copy of the file (private_copy.h), so a file
/// overwritten in place later cannot change the code that runs. On success
/// *entry points at the exported entry struct and *handle holds the object
/// (never closed: the code it holds may run until the process ends).
/// Errors: "cannot load NOUN PATH: <why>" (file missing, a directory or
/// another file that is not regular, not a shared object or missing a
/// symbol, as dlopen() says but naming PATH, no entry point (naming the
/// entries the object has, where it lists them), ABI version mismatch
/// naming both versions).
Status OpenPlugin(const PluginKind& kind, const std::string& spec_text, void** handle,
                  const void** entry);

/// "cannot load NOUN PATH: why", for failures after OpenPlugin.
Status PluginError(const PluginKind& kind, const std::string& spec_text, const std::string& why);

/// Unloads an object OpenPlugin opened, when nothing of it was used.
void ClosePlugin(void* handle);

/// A plugin's object and the shared object holding its code. The object
/// stays loaded for the life of the process: its code, and objects it
/// handed out, may outlive the LoadedPlugin itself.
template <typename T>
struct LoadedPlugin {
  void* handle = nullptr;
  std::string name;               ///< the entry's name: the exported class
  std::uint32_t abi_version = 0;  ///< the version the object was built for
  std::unique_ptr<T> object;
};

/// Opens the object and constructs what its entry creates. `Entry` is the
/// exported struct: {std::uint32_t abi_version; const char* name; T* (*create)();}.
/// Errors are OpenPlugin's, or "cannot load NOUN PATH: DISPLAY constructor
/// threw: what()" (the object is unloaded again).
template <typename T, typename Entry>
Status LoadPlugin(const PluginKind& kind, const std::string& spec_text, LoadedPlugin<T>* loaded) {
  void* handle = nullptr;
  const void* address = nullptr;
  Status status = OpenPlugin(kind, spec_text, &handle, &address);
  if (!status.ok()) return status;
  const auto* entry = static_cast<const Entry*>(address);
  std::string why;
  try {
    loaded->object.reset(entry->create());
    if (!loaded->object) why = "create() returned nothing";
  } catch (const std::exception& error) {
    why = std::string(kind.display) + " constructor threw: " + error.what();
  } catch (...) {
    why = std::string(kind.display) + " constructor threw an unknown exception";
  }
  if (!why.empty()) {
    ClosePlugin(handle);
    return PluginError(kind, spec_text, why);
  }
  loaded->handle = handle;
  loaded->name = entry->name;
  loaded->abi_version = entry->abi_version;
  return Status::Ok();
}

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_PLUGIN_LOADER_H_
