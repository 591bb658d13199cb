#include "call/schema.h"

#include <nlohmann/json.hpp>

#include "src/base/read_whole_file.h"

namespace thriftd::call {
namespace {

using nlohmann::json;

// A name as one program's JSON writes it, qualified: a bare name is the
// program's own, "other.Name" is an included program's.
std::string Qualify(const std::string& program, const std::string& name) {
  return name.find('.') == std::string::npos ? program + "." + name : name;
}

// Thrown inside the parser only (nlohmann's accessors throw too); LoadText
// turns both into a Status.
struct SchemaError {
  std::string message;
};

Type ParseType(const std::string& program, const std::string& type_id, const json* spec);

std::shared_ptr<const Type> ParseSubtype(const std::string& program, const json& spec,
                                         const char* id_key, const char* spec_key) {
  const json* sub = spec.contains(spec_key) ? &spec.at(spec_key) : nullptr;
  return std::make_shared<const Type>(ParseType(program, spec.at(id_key).get<std::string>(), sub));
}

Type ParseType(const std::string& program, const std::string& type_id, const json* spec) {
  static const std::map<std::string, Kind> kBase = {
      {"void", Kind::kVoid},     {"bool", Kind::kBool},     {"byte", Kind::kByte},
      {"i8", Kind::kByte},       {"i16", Kind::kI16},       {"i32", Kind::kI32},
      {"i64", Kind::kI64},       {"double", Kind::kDouble}, {"string", Kind::kString},
      {"binary", Kind::kBinary},
  };
  Type type;
  auto base = kBase.find(type_id);
  if (base != kBase.end()) {
    type.kind = base->second;
    return type;
  }
  static const char* const kComposite[] = {"struct", "union", "exception", "enum",
                                           "list",   "set",   "map"};
  bool known = false;
  for (const char* composite : kComposite) known = known || type_id == composite;
  if (!known) throw SchemaError{"unknown typeId \"" + type_id + "\""};
  if (spec == nullptr) throw SchemaError{"type " + type_id + " without its \"type\" object"};
  if (type_id == "struct" || type_id == "union" || type_id == "exception" || type_id == "enum") {
    type.kind = type_id == "enum" ? Kind::kEnum : Kind::kStruct;
    type.name = Qualify(program, spec->at("class").get<std::string>());
  } else if (type_id == "list" || type_id == "set") {
    type.kind = type_id == "list" ? Kind::kList : Kind::kSet;
    type.element = ParseSubtype(program, *spec, "elemTypeId", "elemType");
  } else if (type_id == "map") {
    type.kind = Kind::kMap;
    type.key = ParseSubtype(program, *spec, "keyTypeId", "keyType");
    type.element = ParseSubtype(program, *spec, "valueTypeId", "valueType");
  }
  return type;
}

Field ParseField(const std::string& program, const json& object) {
  Field field;
  field.id = object.at("key").get<int16_t>();
  field.name = object.at("name").get<std::string>();
  const json* spec = object.contains("type") ? &object.at("type") : nullptr;
  field.type = ParseType(program, object.at("typeId").get<std::string>(), spec);
  std::string required = object.value("required", "req_out");
  field.required = required == "required"   ? Requiredness::kRequired
                   : required == "optional" ? Requiredness::kOptional
                                            : Requiredness::kDefault;
  return field;
}

std::vector<Field> ParseFields(const std::string& program, const json& array) {
  std::vector<Field> fields;
  for (const json& object : array) fields.push_back(ParseField(program, object));
  return fields;
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Status Schema::LoadFile(const std::string& path) {
  std::vector<std::string> seen;
  return LoadFileOnce(path, &seen);
}

Status Schema::LoadFileOnce(const std::string& path, std::vector<std::string>* seen) {
  for (const std::string& done : *seen)
    if (done == path) return Status::Ok();
  seen->push_back(path);
  std::string text;
  Status status = ReadWholeFile(path, &text);
  if (!status.ok()) return status;
  std::vector<std::string> includes;
  status = LoadText(text, path, &includes);
  if (!status.ok()) return status;
  for (const std::string& include : includes) {
    status = LoadFileOnce(DirectoryOf(path) + "/" + include + ".json", seen);
    if (!status.ok()) return status.Prepend(path + ": include " + include);
  }
  return Status::Ok();
}

Status Schema::LoadText(const std::string& text, const std::string& origin,
                        std::vector<std::string>* includes) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    return Status::Error(origin + ": not a Thrift JSON schema: " + e.what());
  }
  if (!root.is_object() || !root.contains("thriftdSchema"))
    return LoadProgram(std::move(root), origin, includes);
  if (root.at("thriftdSchema") != 1 || !root.contains("programs") || !root["programs"].is_array())
    return Status::Error(origin + ": not a thriftd schema bundle of version 1");
  for (json& program : root["programs"]) {
    Status status = LoadProgram(std::move(program), origin, nullptr);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

std::string Schema::Bundle() const {
  return json{{"thriftdSchema", 1}, {"programs", programs_}}.dump();
}

Status Schema::LoadProgram(json parsed, const std::string& origin,
                           std::vector<std::string>* includes) {
  try {
    std::string program = parsed.at("name").get<std::string>();
    programs_.push_back(std::move(parsed));
    const json& root = programs_.back();
    if (includes != nullptr) {
      for (const json& include : root.value("includes", json::array()))
        includes->push_back(include.get<std::string>());
    }
    if (main_program_.empty()) main_program_ = program;
    for (const json& object : root.value("enums", json::array())) {
      EnumDef def;
      def.name = Qualify(program, object.at("name").get<std::string>());
      for (const json& member : object.at("members"))
        def.members.emplace_back(member.at("name").get<std::string>(),
                                 member.at("value").get<int32_t>());
      enums_[def.name] = std::move(def);
    }
    for (const json& object : root.value("structs", json::array())) {
      StructDef def;
      def.name = Qualify(program, object.at("name").get<std::string>());
      def.is_union = object.value("isUnion", false);
      def.is_exception = object.value("isException", false);
      def.fields = ParseFields(program, object.at("fields"));
      structs_[def.name] = std::move(def);
    }
    for (const json& object : root.value("services", json::array())) {
      Service service;
      service.name = Qualify(program, object.at("name").get<std::string>());
      if (object.contains("extends"))
        service.extends = Qualify(program, object.at("extends").get<std::string>());
      for (const json& function : object.at("functions")) {
        Method method;
        method.name = function.at("name").get<std::string>();
        const json* spec = function.contains("returnType") ? &function.at("returnType") : nullptr;
        method.result = ParseType(program, function.at("returnTypeId").get<std::string>(), spec);
        method.oneway = function.value("oneway", false);
        method.arguments = ParseFields(program, function.at("arguments"));
        method.exceptions = ParseFields(program, function.value("exceptions", json::array()));
        service.methods.push_back(std::move(method));
      }
      services_.push_back(std::move(service));
    }
  } catch (const json::exception& e) {
    return Status::Error(origin + ": not a Thrift JSON schema: " + e.what());
  } catch (const SchemaError& e) {
    return Status::Error(origin + ": not a Thrift JSON schema: " + e.message);
  }
  return Status::Ok();
}

const StructDef* Schema::FindStruct(const std::string& qualified) const {
  auto found = structs_.find(qualified);
  return found == structs_.end() ? nullptr : &found->second;
}

const EnumDef* Schema::FindEnum(const std::string& qualified) const {
  auto found = enums_.find(qualified);
  return found == enums_.end() ? nullptr : &found->second;
}

const Service* Schema::FindService(const std::string& name) const {
  for (const std::string& candidate : {Qualify(main_program_, name), name}) {
    for (const Service& service : services_)
      if (service.name == candidate) return &service;
  }
  // A bare name of an included program's service.
  for (const Service& service : services_) {
    size_t dot = service.name.rfind('.');
    if (service.name.compare(dot + 1, std::string::npos, name) == 0) return &service;
  }
  return nullptr;
}

const Method* Schema::FindMethod(const Service& service, const std::string& method) const {
  const Service* current = &service;
  // Bounded: a cycle of `extends` cannot come from the compiler, but could
  // from a hand-written schema.
  for (size_t depth = 0; current != nullptr && depth <= services_.size(); ++depth) {
    for (const Method& candidate : current->methods)
      if (candidate.name == method) return &candidate;
    current = current->extends.empty() ? nullptr : FindService(current->extends);
  }
  return nullptr;
}

std::vector<const Service*> Schema::Services() const {
  std::vector<const Service*> main, others;
  for (const Service& service : services_)
    (service.name.rfind(main_program_ + ".", 0) == 0 ? main : others).push_back(&service);
  main.insert(main.end(), others.begin(), others.end());
  return main;
}

std::string Schema::DisplayName(const std::string& qualified) const {
  std::string prefix = main_program_ + ".";
  return qualified.rfind(prefix, 0) == 0 ? qualified.substr(prefix.size()) : qualified;
}

std::string TypeName(const Schema& schema, const Type& type) {
  switch (type.kind) {
    case Kind::kVoid:
      return "void";
    case Kind::kBool:
      return "bool";
    case Kind::kByte:
      return "i8";
    case Kind::kI16:
      return "i16";
    case Kind::kI32:
      return "i32";
    case Kind::kI64:
      return "i64";
    case Kind::kDouble:
      return "double";
    case Kind::kString:
      return "string";
    case Kind::kBinary:
      return "binary";
    case Kind::kEnum:
    case Kind::kStruct:
      return schema.DisplayName(type.name);
    case Kind::kList:
      return "list<" + TypeName(schema, *type.element) + ">";
    case Kind::kSet:
      return "set<" + TypeName(schema, *type.element) + ">";
    case Kind::kMap:
      return "map<" + TypeName(schema, *type.key) + ", " + TypeName(schema, *type.element) + ">";
  }
  return "?";
}

}  // namespace thriftd::call
