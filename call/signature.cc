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

}  // namespace thriftd::call
