// Reading a whole file into a string: config files, schemas, the Thrift
// compiler's output. The one place such a read is checked, so an unreadable
// file is an error naming it rather than an empty text.
#ifndef THRIFTD_SRC_BASE_READ_WHOLE_FILE_H_
#define THRIFTD_SRC_BASE_READ_WHOLE_FILE_H_

#include <string>

#include "src/base/status.h"

namespace thriftd {

/// The contents of `path` into `*text`, which is left alone on an error:
/// "cannot read PATH: strerror" (a missing file, a directory, a failed read).
Status ReadWholeFile(const std::string& path, std::string* text);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_READ_WHOLE_FILE_H_
