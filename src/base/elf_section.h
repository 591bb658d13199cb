// Reads one named section of an ELF file (a shared object) without loading
// it: no constructor of the object runs. The master reads an App's embedded
// schema (include/thriftd/schema.h) this way, where it does not otherwise
// dlopen the App. Runs in any process; no state.
#ifndef THRIFTD_SRC_BASE_ELF_SECTION_H_
#define THRIFTD_SRC_BASE_ELF_SECTION_H_

#include <optional>
#include <string>

#include "src/base/status.h"

namespace thriftd {

/// The bytes of section `name` of the ELF file at `path` (32- or 64-bit, of
/// this machine's byte order), or nullopt when it has no such section. An
/// unreadable file, one that is not ELF, or whose headers point outside it
/// is an error naming `path`. Sections larger than `max_size` are an error.
Status ReadElfSection(const std::string& path, const std::string& name, size_t max_size,
                      std::optional<std::string>* contents);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_ELF_SECTION_H_
