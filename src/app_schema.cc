#include "src/app_schema.h"

#include <thriftd/schema.h>

#include "call/schema.h"
#include "src/base/elf_section.h"
#include "src/base/plugin_loader.h"

namespace thriftd {

Status ReadAppSchema(const std::string& app, std::optional<std::string>* schema) {
  std::string path = ParsePluginSpec(app).path;
  std::optional<std::string> section;
  Status status = ReadElfSection(path, THRIFTD_SCHEMA_SECTION, call::kMaxSchemaBytes, &section);
  if (!status.ok()) return status;
  if (!section) {
    schema->reset();
    return Status::Ok();
  }
  // The macro's string literal ends with its NUL; what follows it, if
  // anything, is not the schema.
  std::string text = section->substr(0, section->find('\0'));
  // Checked as `thriftd call` will read it, so that a broken one is
  // reported here, once, rather than to every client.
  call::Schema parsed;
  status = parsed.LoadText(text, path + ": section " THRIFTD_SCHEMA_SECTION);
  if (!status.ok()) return status;
  *schema = std::move(text);
  return Status::Ok();
}

}  // namespace thriftd
