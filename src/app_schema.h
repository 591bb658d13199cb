// The schema an App embeds with THRIFTD_SCHEMA (include/thriftd/schema.h),
// read by the master from the App's file for /schema: the ELF section is
// read, the object is not loaded, so no App code runs in the master for it.
#ifndef THRIFTD_SRC_APP_SCHEMA_H_
#define THRIFTD_SRC_APP_SCHEMA_H_

#include <optional>
#include <string>

#include "src/base/status.h"

namespace thriftd {

/// The schema embedded in the App `app` ("PATH.so[:NAME]": every App of a
/// file shares its schema), or nullopt when it embeds none. A file that
/// cannot be read as ELF, a schema larger than `thriftd call` reads
/// (call::kMaxSchemaBytes), or one that is not a Thrift JSON schema, is an
/// error naming the file. Runs in the master, at start and on HUP.
Status ReadAppSchema(const std::string& app, std::optional<std::string>* schema);

}  // namespace thriftd

#endif  // THRIFTD_SRC_APP_SCHEMA_H_
