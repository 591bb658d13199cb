#include "call/value_codec.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include <thrift/protocol/TProtocolException.h>

#include "call/base64.h"

namespace thriftd::call {
namespace {

using apache::thrift::protocol::TProtocolException;
namespace T = apache::thrift::protocol;

// The offending value, short enough for one line.
std::string Shown(const Json& value) {
  std::string text = value.dump();
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

Status Expected(const std::string& path, const std::string& what, const Json& value) {
  return Status::Error(path + ": expected " + what + ", got " + Shown(value));
}

// An integer of [min, max] from a JSON integer (never from a float: 1.5
// is not an i32, and a double would lose an i64's low bits).
Status IntegerOf(const Json& value, int64_t min, int64_t max, const std::string& type_name,
                 const std::string& path, int64_t* result) {
  if (value.is_number_unsigned()) {
    uint64_t number = value.get<uint64_t>();
    if (number > static_cast<uint64_t>(max))
      return Status::Error(path + ": " + value.dump() + " is out of range for " + type_name);
    *result = static_cast<int64_t>(number);
    return Status::Ok();
  }
  if (!value.is_number_integer()) return Expected(path, type_name, value);
  int64_t number = value.get<int64_t>();
  if (number < min || number > max)
    return Status::Error(path + ": " + value.dump() + " is out of range for " + type_name);
  *result = number;
  return Status::Ok();
}

Status EnumValueOf(const Schema& schema, const Type& type, const Json& value,
                   const std::string& path, int32_t* result) {
  const EnumDef* def = schema.FindEnum(type.name);
  if (def == nullptr) return Status::Error(path + ": enum " + type.name + " is not in the schema");
  if (value.is_string()) {
    for (const auto& [name, number] : def->members) {
      if (name == value.get<std::string>()) {
        *result = number;
        return Status::Ok();
      }
    }
    return Status::Error(path + ": " + Shown(value) + " is not a member of enum " +
                         schema.DisplayName(def->name));
  }
  int64_t number = 0;
  Status status = IntegerOf(value, INT32_MIN, INT32_MAX, "enum " + schema.DisplayName(def->name),
                            path, &number);
  *result = static_cast<int32_t>(number);
  return status;
}

Json EnumJson(const Schema& schema, const Type& type, int32_t number) {
  const EnumDef* def = schema.FindEnum(type.name);
  if (def != nullptr) {
    for (const auto& [name, value] : def->members)
      if (value == number) return name;
  }
  return number;  // a value newer than the IDL: shown as it came
}

bool KeysAreText(const Type& map) {
  return map.key->kind == Kind::kString || map.key->kind == Kind::kEnum;
}

Status WriteMap(TProtocol* out, const Schema& schema, const Type& type, const Json& value,
                const std::string& path, int depth) {
  // Both forms become (key, value) pairs; an object's keys are JSON strings.
  std::vector<std::pair<Json, const Json*>> pairs;
  if (value.is_object() && KeysAreText(type)) {
    for (const auto& [key, item] : value.items()) pairs.emplace_back(Json(key), &item);
  } else if (value.is_array()) {
    for (const Json& pair : value) {
      if (!pair.is_array() || pair.size() != 2) return Expected(path, "[key, value] pairs", pair);
      pairs.emplace_back(pair[0], &pair[1]);
    }
  } else {
    return Expected(path,
                    KeysAreText(type) ? "an object or [[key, value], ...]" : "[[key, value], ...]",
                    value);
  }
  out->writeMapBegin(WireType(*type.key), WireType(*type.element),
                     static_cast<uint32_t>(pairs.size()));
  for (const auto& [key, item] : pairs) {
    std::string key_path =
        path + "[" + (key.is_string() ? key.get<std::string>() : key.dump()) + "]";
    // An enum key in an object's form may be a number written as a string.
    Json key_value = key;
    if (type.key->kind == Kind::kEnum && key.is_string() && !key.get<std::string>().empty() &&
        key.get<std::string>().find_first_not_of("-0123456789") == std::string::npos) {
      key_value = Json::parse(key.get<std::string>(), nullptr, false);
    }
    Status status = WriteValue(out, schema, *type.key, key_value, key_path + " key", depth);
    if (status.ok()) status = WriteValue(out, schema, *type.element, *item, key_path, depth);
    if (!status.ok()) return status;
  }
  out->writeMapEnd();
  return Status::Ok();
}

std::string Describe(TType type) {
  switch (type) {
    case T::T_BOOL:
      return "bool";
    case T::T_BYTE:
      return "byte";
    case T::T_I16:
      return "i16";
    case T::T_I32:
      return "i32";
    case T::T_I64:
      return "i64";
    case T::T_DOUBLE:
      return "double";
    case T::T_STRING:
      return "string";
    case T::T_STRUCT:
      return "struct";
    case T::T_MAP:
      return "map";
    case T::T_SET:
      return "set";
    case T::T_LIST:
      return "list";
    default:
      return "type " + std::to_string(static_cast<int>(type));
  }
}

void CheckElement(TType wire, const Type& expected, const char* where) {
  if (wire != WireType(expected)) {
    throw TProtocolException(TProtocolException::INVALID_DATA,
                             std::string("the reply has a ") + where + " of " + Describe(wire) +
                                 " where the schema says " + Describe(WireType(expected)));
  }
}

}  // namespace

TType WireType(const Type& type) {
  switch (type.kind) {
    case Kind::kVoid:
      return T::T_VOID;
    case Kind::kBool:
      return T::T_BOOL;
    case Kind::kByte:
      return T::T_BYTE;
    case Kind::kI16:
      return T::T_I16;
    case Kind::kI32:
    case Kind::kEnum:
      return T::T_I32;
    case Kind::kI64:
      return T::T_I64;
    case Kind::kDouble:
      return T::T_DOUBLE;
    case Kind::kString:
    case Kind::kBinary:
      return T::T_STRING;
    case Kind::kStruct:
      return T::T_STRUCT;
    case Kind::kList:
      return T::T_LIST;
    case Kind::kSet:
      return T::T_SET;
    case Kind::kMap:
      return T::T_MAP;
  }
  return T::T_VOID;
}

Status WriteValue(TProtocol* out, const Schema& schema, const Type& type, const Json& value,
                  const std::string& path, int depth) {
  if (depth > kMaxDepth)
    return Status::Error(path + ": structs nested deeper than " + std::to_string(kMaxDepth));
  int64_t number = 0;
  Status status;
  switch (type.kind) {
    case Kind::kVoid:
      return Status::Error(path + ": a void value cannot be written");
    case Kind::kBool:
      if (!value.is_boolean()) return Expected(path, "bool", value);
      out->writeBool(value.get<bool>());
      return Status::Ok();
    case Kind::kByte:
      status = IntegerOf(value, INT8_MIN, INT8_MAX, "i8", path, &number);
      if (status.ok()) out->writeByte(static_cast<int8_t>(number));
      return status;
    case Kind::kI16:
      status = IntegerOf(value, INT16_MIN, INT16_MAX, "i16", path, &number);
      if (status.ok()) out->writeI16(static_cast<int16_t>(number));
      return status;
    case Kind::kI32:
      status = IntegerOf(value, INT32_MIN, INT32_MAX, "i32", path, &number);
      if (status.ok()) out->writeI32(static_cast<int32_t>(number));
      return status;
    case Kind::kI64:
      status = IntegerOf(value, INT64_MIN, INT64_MAX, "i64", path, &number);
      if (status.ok()) out->writeI64(number);
      return status;
    case Kind::kDouble: {
      double real = 0;
      if (value.is_number()) {
        real = value.get<double>();
      } else if (value == "NaN") {
        real = std::numeric_limits<double>::quiet_NaN();
      } else if (value == "Infinity" || value == "-Infinity") {
        real = value == "Infinity" ? HUGE_VAL : -HUGE_VAL;
      } else {
        return Expected(path, "double", value);
      }
      out->writeDouble(real);
      return Status::Ok();
    }
    case Kind::kString:
      if (!value.is_string()) return Expected(path, "string", value);
      out->writeString(value.get<std::string>());
      return Status::Ok();
    case Kind::kBinary: {
      std::string bytes;
      if (!value.is_string() || !Base64Decode(value.get<std::string>(), &bytes))
        return Expected(path, "binary (base64)", value);
      out->writeBinary(bytes);
      return Status::Ok();
    }
    case Kind::kEnum: {
      int32_t enum_value = 0;
      status = EnumValueOf(schema, type, value, path, &enum_value);
      if (status.ok()) out->writeI32(enum_value);
      return status;
    }
    case Kind::kStruct: {
      const StructDef* def = schema.FindStruct(type.name);
      if (def == nullptr)
        return Status::Error(path + ": struct " + type.name + " is not in the schema");
      return WriteStruct(out, schema, def->fields, schema.DisplayName(def->name), def->is_union,
                         value, path, /*arguments=*/false, depth + 1);
    }
    case Kind::kList:
    case Kind::kSet: {
      if (!value.is_array()) return Expected(path, TypeName(schema, type), value);
      auto size = static_cast<uint32_t>(value.size());
      TType element = WireType(*type.element);
      type.kind == Kind::kList ? out->writeListBegin(element, size)
                               : out->writeSetBegin(element, size);
      for (size_t i = 0; i < value.size(); ++i) {
        status = WriteValue(out, schema, *type.element, value[i],
                            path + "[" + std::to_string(i) + "]", depth);
        if (!status.ok()) return status;
      }
      type.kind == Kind::kList ? out->writeListEnd() : out->writeSetEnd();
      return Status::Ok();
    }
    case Kind::kMap:
      return WriteMap(out, schema, type, value, path, depth);
  }
  return Status::Error(path + ": unknown type");
}

Status WriteStruct(TProtocol* out, const Schema& schema, const std::vector<Field>& fields,
                   const std::string& name, bool is_union, const Json& object,
                   const std::string& path, bool arguments, int depth) {
  if (!object.is_object()) {
    return arguments ? Status::Error("the arguments must be a JSON object, got " + Shown(object))
                     : Expected(path, "an object (" + name + ")", object);
  }
  auto field_path = [&](const std::string& field) {
    return arguments ? "argument " + field : path + "." + field;
  };
  for (const auto& [key, item] : object.items()) {
    bool known = false;
    for (const Field& field : fields) known = known || field.name == key;
    if (!known) {
      return arguments ? Status::Error("unknown argument \"" + key + "\" of " + name)
                       : Status::Error(path + ": " + name + " has no field \"" + key + "\"");
    }
  }
  size_t set = 0;
  out->writeStructBegin(name.c_str());
  for (const Field& field : fields) {
    auto item = object.find(field.name);
    if (item == object.end() || item->is_null()) {
      if (field.required != Requiredness::kRequired) continue;
      return arguments
                 ? Status::Error("missing required argument " + field.name)
                 : Status::Error(path + ": missing required field " + field.name + " of " + name);
    }
    ++set;
    out->writeFieldBegin(field.name.c_str(), WireType(field.type), field.id);
    Status status = WriteValue(out, schema, field.type, *item, field_path(field.name), depth);
    if (!status.ok()) return status;
    out->writeFieldEnd();
  }
  if (is_union && set != 1) {
    return Status::Error(path + ": union " + name + " takes exactly one field, got " +
                         std::to_string(set));
  }
  out->writeFieldStop();
  out->writeStructEnd();
  return Status::Ok();
}

Json ReadValue(TProtocol* in, const Schema& schema, const Type& type) {
  switch (type.kind) {
    case Kind::kVoid:
      return nullptr;
    case Kind::kBool: {
      bool value = false;
      in->readBool(value);
      return value;
    }
    case Kind::kByte: {
      int8_t value = 0;
      in->readByte(value);
      return value;
    }
    case Kind::kI16: {
      int16_t value = 0;
      in->readI16(value);
      return value;
    }
    case Kind::kI32: {
      int32_t value = 0;
      in->readI32(value);
      return value;
    }
    case Kind::kEnum: {
      int32_t value = 0;
      in->readI32(value);
      return EnumJson(schema, type, value);
    }
    case Kind::kI64: {
      int64_t value = 0;
      in->readI64(value);
      return value;
    }
    case Kind::kDouble: {
      double value = 0;
      in->readDouble(value);
      if (std::isnan(value)) return "NaN";
      if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
      return value;
    }
    case Kind::kString: {
      std::string value;
      in->readString(value);
      return value;
    }
    case Kind::kBinary: {
      std::string value;
      in->readBinary(value);
      return Base64Encode(value);
    }
    case Kind::kStruct: {
      const StructDef* def = schema.FindStruct(type.name);
      if (def == nullptr) {
        throw TProtocolException(TProtocolException::INVALID_DATA,
                                 "struct " + type.name + " is not in the schema");
      }
      return ReadStruct(in, schema, def->fields);
    }
    case Kind::kList:
    case Kind::kSet: {
      TType element = T::T_STOP;
      uint32_t size = 0;
      type.kind == Kind::kList ? in->readListBegin(element, size) : in->readSetBegin(element, size);
      if (size > 0) CheckElement(element, *type.element, "list or set element");
      Json array = Json::array();
      for (uint32_t i = 0; i < size; ++i) array.push_back(ReadValue(in, schema, *type.element));
      type.kind == Kind::kList ? in->readListEnd() : in->readSetEnd();
      return array;
    }
    case Kind::kMap: {
      TType key_type = T::T_STOP, value_type = T::T_STOP;
      uint32_t size = 0;
      in->readMapBegin(key_type, value_type, size);
      if (size > 0) {
        CheckElement(key_type, *type.key, "map key");
        CheckElement(value_type, *type.element, "map value");
      }
      Json result = KeysAreText(type) ? Json::object() : Json::array();
      for (uint32_t i = 0; i < size; ++i) {
        Json key = ReadValue(in, schema, *type.key);
        Json value = ReadValue(in, schema, *type.element);
        if (result.is_object()) {
          result[key.is_string() ? key.get<std::string>() : key.dump()] = std::move(value);
        } else {
          result.push_back(Json::array({std::move(key), std::move(value)}));
        }
      }
      in->readMapEnd();
      return result;
    }
  }
  return nullptr;
}

Json ReadStruct(TProtocol* in, const Schema& schema, const std::vector<Field>& fields) {
  apache::thrift::protocol::TInputRecursionTracker depth(*in);
  Json object = Json::object();
  std::string name;
  in->readStructBegin(name);
  while (true) {
    TType wire = T::T_STOP;
    int16_t id = 0;
    in->readFieldBegin(name, wire, id);
    if (wire == T::T_STOP) break;
    const Field* match = nullptr;
    for (const Field& field : fields)
      if (field.id == id && WireType(field.type) == wire) match = &field;
    if (match != nullptr) {
      object[match->name] = ReadValue(in, schema, match->type);
    } else {
      in->skip(wire);
    }
    in->readFieldEnd();
  }
  in->readStructEnd();
  return object;
}

}  // namespace thriftd::call
