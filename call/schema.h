// Schema: the services and types of a Thrift IDL, as the Thrift compiler's
// JSON generator (`thrift --gen json`) describes them, for `thriftd call`.
// Names are qualified by program ("shared.Base"): a program's JSON names its
// own types bare and an included program's types "program.Name".
#ifndef THRIFTD_CALL_SCHEMA_H_
#define THRIFTD_CALL_SCHEMA_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/base/status.h"

namespace thriftd::call {

enum class Kind {
  kVoid,
  kBool,
  kByte,
  kI16,
  kI32,
  kI64,
  kDouble,
  kString,
  kBinary,
  kEnum,
  kStruct,  ///< also a union or an exception: see StructDef
  kList,
  kSet,
  kMap,
};

/// A type as a field, an argument or a result uses it. Typedefs are already
/// resolved by the compiler.
struct Type {
  Kind kind = Kind::kVoid;
  std::string name;                     ///< kEnum, kStruct: the qualified name
  std::shared_ptr<const Type> key;      ///< kMap: the key type
  std::shared_ptr<const Type> element;  ///< kList, kSet: the element; kMap: the value
};

enum class Requiredness { kRequired, kDefault, kOptional };

struct Field {
  int16_t id = 0;
  std::string name;
  Type type;
  Requiredness required = Requiredness::kDefault;
};

struct StructDef {
  std::string name;  ///< qualified
  bool is_union = false;
  bool is_exception = false;
  std::vector<Field> fields;
};

struct EnumDef {
  std::string name;  ///< qualified
  std::vector<std::pair<std::string, int32_t>> members;
};

struct Method {
  std::string name;
  Type result;  ///< kVoid for void and oneway methods
  bool oneway = false;
  std::vector<Field> arguments;
  std::vector<Field> exceptions;
};

struct Service {
  std::string name;     ///< qualified
  std::string extends;  ///< qualified; empty when it extends nothing
  std::vector<Method> methods;
};

/// The largest schema read anywhere: one an App embeds (the master serves no
/// larger, app_schema.h) and one --schema-from fetches (schema_fetch.h).
constexpr size_t kMaxSchemaBytes = 64 * 1024 * 1024;

class Schema {
 public:
  /// Reads FILE.json as the compiler writes it, then each program it
  /// includes from FILE's directory (INCLUDE.json: what `thrift -r` writes).
  /// The first program read is the main one, whose names need no prefix.
  Status LoadFile(const std::string& path);
  /// Reads one program's JSON text, or a bundle of them (below). `origin`
  /// names it in errors; the names of the programs a program includes go to
  /// `includes` when given (a bundle holds its includes).
  Status LoadText(const std::string& text, const std::string& origin,
                  std::vector<std::string>* includes = nullptr);

  /// Every program read, as one JSON document: {"thriftdSchema": 1,
  /// "programs": [MAIN, INCLUDED...]}, each the compiler's JSON for one
  /// program. What THRIFTD_SCHEMA embeds, /schema serves and LoadText reads.
  std::string Bundle() const;

  const StructDef* FindStruct(const std::string& qualified) const;
  const EnumDef* FindEnum(const std::string& qualified) const;
  /// `name` bare (searched in the main program, then in every program) or qualified.
  const Service* FindService(const std::string& name) const;
  /// The method, searched in `service` and then the services it extends.
  const Method* FindMethod(const Service& service, const std::string& method) const;
  /// Every service, the main program's first.
  std::vector<const Service*> Services() const;
  /// `qualified` without the main program's prefix (how a user names it).
  std::string DisplayName(const std::string& qualified) const;

 private:
  Status LoadFileOnce(const std::string& path, std::vector<std::string>* seen);

  // One program's JSON, already parsed (LoadText parses a text once, a
  // bundle's programs with it), kept for Bundle.
  Status LoadProgram(nlohmann::json root, const std::string& origin,
                     std::vector<std::string>* includes);

  std::string main_program_;
  std::vector<nlohmann::json> programs_;  ///< as read, main first
  std::map<std::string, StructDef> structs_;
  std::map<std::string, EnumDef> enums_;
  std::vector<Service> services_;
};

/// The type's name as the IDL would write it ("map<i32, list<Point>>").
std::string TypeName(const Schema& schema, const Type& type);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_SCHEMA_H_
