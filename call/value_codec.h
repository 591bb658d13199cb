// JSON <-> Thrift values, driven by a Schema: what `thriftd call` writes
// into a call and reads out of a reply, with Thrift's generic TProtocol API
// (no generated code).
//
// The JSON forms: bool, numbers for byte/i16/i32/i64 (i64 exact: JSON
// integers are parsed as integers), double as a number or "NaN" /
// "Infinity" / "-Infinity", string, binary as base64, an enum by name or
// number (read back by name), a struct / union / exception as an object by
// field name, list and set as arrays, a map as an object when its keys are
// strings or enums and as [[key, value], ...] otherwise (accepted for any map).
#ifndef THRIFTD_CALL_VALUE_CODEC_H_
#define THRIFTD_CALL_VALUE_CODEC_H_

#include <string>
#include <vector>

#include <thrift/protocol/TProtocol.h>
#include <nlohmann/json.hpp>

#include "call/schema.h"
#include "src/base/status.h"

namespace thriftd::call {

using Json = nlohmann::json;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TType;

/// How deeply structs may nest in a value written or read: Thrift's own
/// default recursion limit, which generated code counts the same way. A
/// recursive struct (`struct Tree { 1: list<Tree> children }`) is otherwise
/// as deep as its JSON or a reply says, each level C++ stack frames; other
/// nesting is bounded by the schema.
constexpr int kMaxDepth = 64;

/// The wire type of `type`.
TType WireType(const Type& type);

/// Writes `value` as `type` (a wrong JSON type, an out-of-range number,
/// an unknown enum name, field or bad base64 is an error naming `path`, e.g.
/// `argument p.x: expected i32, got "x"`). Writes nothing useful on error:
/// the caller discards the buffer. Structs nested deeper than kMaxDepth are
/// an error. Protocol exceptions propagate. `depth`: the structs around it.
Status WriteValue(TProtocol* out, const Schema& schema, const Type& type, const Json& value,
                  const std::string& path, int depth = 0);

/// Writes a struct's fields (or a method's arguments) from a JSON object, as
/// writeStructBegin ... writeStructEnd. `name` is the struct's display name;
/// `arguments` makes the paths "argument NAME" and a missing required field
/// "missing required argument NAME". A union takes exactly one field.
Status WriteStruct(TProtocol* out, const Schema& schema, const std::vector<Field>& fields,
                   const std::string& name, bool is_union, const Json& object,
                   const std::string& path, bool arguments = false, int depth = 0);

/// Reads a value of `type` (whose wire type the caller matched). Throws
/// TProtocolException on a reply that does not fit the schema.
Json ReadValue(TProtocol* in, const Schema& schema, const Type& type);

/// Reads a struct as readStructBegin ... readStructEnd into an object by
/// field name; a field the schema does not know (by id and wire type) is
/// skipped, as generated code does. Structs nested deeper than the
/// protocol's recursion limit (kMaxDepth by default) throw
/// TProtocolException DEPTH_LIMIT, as generated code's read() does.
Json ReadStruct(TProtocol* in, const Schema& schema, const std::vector<Field>& fields);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_VALUE_CODEC_H_
