#include "call/enum_types.h"

#include <map>
#include <memory>
#include <set>

#include "call/xml_elements.h"

namespace thriftd::call {
namespace {

using nlohmann::json;

// What every program's XML declares: its enums, and its typedefs' types.
struct Declarations {
  std::set<std::string> enums;                        ///< "program.Name"
  std::map<std::string, const XmlElement*> typedefs;  ///< "program.Name" -> its type
};

// The type `node` (an element with type="..." attributes) stands for,
// through typedefs: an enum's qualified name, or "" with *resolved set to
// the element describing the type itself.
std::string EnumOf(const Declarations& declared, const XmlElement* node,
                   const XmlElement** resolved) {
  for (int hops = 0; hops < 64 && node->Attribute("type") == "id"; ++hops) {
    std::string name = node->Attribute("type-module") + "." + node->Attribute("type-id");
    if (declared.enums.count(name) != 0) return name;
    auto alias = declared.typedefs.find(name);
    if (alias == declared.typedefs.end()) break;  // a struct, union or exception
    node = alias->second;
  }
  *resolved = node;
  return "";
}

// Patches the type held by holder[id_key] (and holder[spec_key], its
// details) from the XML element describing the same type.
void Patch(const Declarations& declared, const std::string& program, const XmlElement& node,
           json* holder, const char* id_key, const char* spec_key) {
  if (!holder->is_object() || !holder->contains(id_key)) return;
  const XmlElement* resolved = &node;
  std::string enum_name = EnumOf(declared, &node, &resolved);
  if (!enum_name.empty()) {
    if ((*holder)[id_key] != "i32") return;
    std::string module = enum_name.substr(0, enum_name.find('.'));
    std::string class_name = module == program ? enum_name.substr(module.size() + 1) : enum_name;
    (*holder)[id_key] = "enum";
    (*holder)[spec_key] = json{{"typeId", "enum"}, {"class", class_name}};
    return;
  }
  if (!holder->contains(spec_key)) return;
  json& spec = (*holder)[spec_key];
  std::string type = resolved->Attribute("type");
  if (type == "list" || type == "set") {
    if (const XmlElement* element = resolved->Child("elemType"))
      Patch(declared, program, *element, &spec, "elemTypeId", "elemType");
  } else if (type == "map") {
    if (const XmlElement* key = resolved->Child("keyType"))
      Patch(declared, program, *key, &spec, "keyTypeId", "keyType");
    if (const XmlElement* value = resolved->Child("valueType"))
      Patch(declared, program, *value, &spec, "valueTypeId", "valueType");
  }
}

void PatchProgram(const Declarations& declared, const XmlElement& document, json* program) {
  std::string name = document.Attribute("name");
  if (program->contains("structs")) {
    for (json& def : (*program)["structs"]) {
      const XmlElement* xml = nullptr;
      for (const char* tag : {"struct", "union", "exception"})
        if (xml == nullptr) xml = document.Child(tag, def.value("name", ""));
      if (xml == nullptr) continue;
      for (json& field : def["fields"])
        if (const XmlElement* xml_field = xml->Child("field", field.value("name", "")))
          Patch(declared, name, *xml_field, &field, "typeId", "type");
    }
  }
  if (!program->contains("services")) return;
  for (json& service : (*program)["services"]) {
    const XmlElement* xml = document.Child("service", service.value("name", ""));
    if (xml == nullptr) continue;
    for (json& function : service["functions"]) {
      const XmlElement* method = xml->Child("method", function.value("name", ""));
      if (method == nullptr) continue;
      if (const XmlElement* returns = method->Child("returns"))
        Patch(declared, name, *returns, &function, "returnTypeId", "returnType");
      for (json& argument : function["arguments"])
        if (const XmlElement* arg = method->Child("arg", argument.value("name", "")))
          Patch(declared, name, *arg, &argument, "typeId", "type");
    }
  }
}

}  // namespace

Status RestoreEnumTypes(const std::map<std::string, std::string>& xml_files,
                        std::vector<nlohmann::json>* programs) {
  std::vector<XmlElement> roots;
  for (const auto& [name, text] : xml_files) {
    roots.emplace_back();
    Status status = ReadXmlElements(text, &roots.back());
    if (!status.ok()) return status.Prepend(name);
  }
  Declarations declared;
  std::map<std::string, const XmlElement*> documents;
  for (const XmlElement& root : roots) {
    for (const XmlElement& document : root.children) {
      if (document.tag != "document") continue;
      std::string program = document.Attribute("name");
      documents[program] = &document;
      for (const XmlElement& child : document.children) {
        std::string qualified = program + "." + child.Attribute("name");
        if (child.tag == "enum") declared.enums.insert(qualified);
        if (child.tag == "typedef") declared.typedefs[qualified] = &child;
      }
    }
  }
  try {
    for (json& program : *programs) {
      if (!program.is_object()) continue;
      auto document = documents.find(program.value("name", ""));
      if (document != documents.end()) PatchProgram(declared, *document->second, &program);
    }
  } catch (const json::exception& e) {
    return Status::Error(std::string("the compiler's JSON is not as expected: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace thriftd::call
