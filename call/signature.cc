#include "call/signature.h"

#include <vector>

namespace thriftd::call {
namespace {

std::string FieldList(const Schema& schema, const std::vector<Field>& fields) {
  std::string text;
  for (const Field& field : fields) {
    if (!text.empty()) text += ", ";
    text += std::to_string(field.id) + ": ";
    if (field.required == Requiredness::kRequired) text += "required ";
    if (field.required == Requiredness::kOptional) text += "optional ";
    text += TypeName(schema, field.type) + " " + field.name;
  }
  return text;
}

}  // namespace

std::string Signature(const Schema& schema, const Method& method, const std::string& service) {
  std::string text = method.oneway ? "oneway " : "";
  text += TypeName(schema, method.result) + " " + (service.empty() ? "" : service + ".") +
          method.name + "(" + FieldList(schema, method.arguments) + ")";
  if (!method.exceptions.empty()) text += " throws (" + FieldList(schema, method.exceptions) + ")";
  return text;
}

Json TemplateOf(const Schema& schema, const Type& type, int depth) {
  switch (type.kind) {
    case Kind::kVoid:
      return nullptr;
    case Kind::kBool:
      return false;
    case Kind::kByte:
    case Kind::kI16:
    case Kind::kI32:
    case Kind::kI64:
      return 0;
    case Kind::kDouble:
      return 0.0;
    case Kind::kString:
    case Kind::kBinary:
      return "";
    case Kind::kEnum: {
      const EnumDef* def = schema.FindEnum(type.name);
      if (def == nullptr || def->members.empty()) return 0;
      return def->members.front().first;
    }
    case Kind::kStruct: {
      const StructDef* def = schema.FindStruct(type.name);
      // A recursive struct would be endless: it stops at null.
      if (def == nullptr || depth > 8) return nullptr;
      Json object = Json::object();
      for (const Field& field : def->fields) {
        object[field.name] = TemplateOf(schema, field.type, depth + 1);
        if (def->is_union) break;  // one field: the first
      }
      return object;
    }
    case Kind::kList:
    case Kind::kSet:
      return Json::array({TemplateOf(schema, *type.element, depth + 1)});
    case Kind::kMap:
      if ((type.key->kind == Kind::kString || type.key->kind == Kind::kEnum)) {
        Json key = TemplateOf(schema, *type.key, depth + 1);
        return Json::object({{key.is_string() ? key.get<std::string>() : key.dump(),
                              TemplateOf(schema, *type.element, depth + 1)}});
      }
      return Json::array({Json::array({TemplateOf(schema, *type.key, depth + 1),
                                       TemplateOf(schema, *type.element, depth + 1)})});
  }
  return nullptr;
}

}  // namespace thriftd::call
