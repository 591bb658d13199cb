// Enum types for the compiler's JSON. Debian 12's Thrift 0.17 JSON
// generator writes an enum-typed field, argument or result (and a typedef
// of an enum, and an enum in a container) as a plain "i32", losing the
// enum; its XML generator (`thrift --gen xml`) names the type of each
// ("type-module", "type-id"). This restores the JSON from the XML to what
// newer generators write: typeId "enum" and {"typeId": "enum", "class":
// NAME}, which Schema reads as an enum, so that `thriftd call` takes and
// prints enum values by name.
#ifndef THRIFTD_CALL_ENUM_TYPES_H_
#define THRIFTD_CALL_ENUM_TYPES_H_

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/base/status.h"

namespace thriftd::call {

/// Rewrites, in every program of `programs` (the JSON generator's output),
/// each "i32" the XML of the same programs (`xml_files`, the XML
/// generator's output for them by file name) says is an enum. A program
/// without XML is left as it is; XML that does not parse is an error
/// naming its file ("FILE: the compiler's XML at byte N: ...").
Status RestoreEnumTypes(const std::map<std::string, std::string>& xml_files,
                        std::vector<nlohmann::json>* programs);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_ENUM_TYPES_H_
