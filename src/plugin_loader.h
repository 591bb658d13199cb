// Loading a shared object that exports a thriftd entry point: an App
// (THRIFTD_APP) or a worker kind (THRIFTD_WORKER). Both are named
// `PATH.so[:NAME]` and fail the same ways, each as one line.
#ifndef THRIFTD_SRC_PLUGIN_LOADER_H_
#define THRIFTD_SRC_PLUGIN_LOADER_H_

#include <cstdint>
#include <string>

#include "src/status.h"

namespace thriftd {

/// What is being loaded, for symbol names and messages.
struct PluginKind {
  const char* noun;           ///< "app", "worker kind": "cannot load app PATH: ..."
  const char* display;        ///< "App", "worker kind": "no App named X"
  const char* symbol_prefix;  ///< "thriftd_app": entries are PREFIX_NAME, PREFIX_default
  const char* macro;          ///< "THRIFTD_APP"
  std::uint32_t abi_version;  ///< what the entry's first member must hold
};

struct PluginSpec {
  std::string path;
  std::string name;  ///< empty: the object's default entry
};

/// Splits "PATH.so[:NAME]" (a colon in a directory name does not split).
PluginSpec ParsePluginSpec(const std::string& text);

/// Opens the object and finds its entry. On success *entry points at the
/// exported entry struct and *handle holds the object (never closed: the
/// code it holds may run until the process ends). Errors: "cannot load
/// NOUN PATH: <why>" (file missing, a directory, not a shared object, no
/// entry point, ABI version mismatch naming both versions).
Status OpenPlugin(const PluginKind& kind, const std::string& spec_text, void** handle,
                  const void** entry);

/// "cannot load NOUN PATH: why", for failures after OpenPlugin.
Status PluginError(const PluginKind& kind, const std::string& spec_text, const std::string& why);

}  // namespace thriftd

#endif  // THRIFTD_SRC_PLUGIN_LOADER_H_
