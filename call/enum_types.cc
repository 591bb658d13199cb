#include "call/enum_types.h"

#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <set>

namespace thriftd::call {
namespace {

using nlohmann::json;

// The elements and attributes of the XML generator's output; text,
// comments and declarations are skipped (it writes no text content but doc
// comments, which are not needed here).
struct Element {
  std::string tag;
  std::map<std::string, std::string> attributes;
  std::vector<Element> children;

  std::string Attribute(const std::string& name) const {
    auto found = attributes.find(name);
    return found == attributes.end() ? "" : found->second;
  }
  const Element* Child(const std::string& child_tag, const std::string& name = "") const {
    for (const Element& child : children)
      if (child.tag == child_tag && (name.empty() || child.Attribute("name") == name))
        return &child;
    return nullptr;
  }
};

class XmlReader {
 public:
  explicit XmlReader(const std::string& text) : text_(text) {}

  // The document's root element.
  Status Read(Element* root) {
    SkipMisc();
    Status status = ReadElement(root, 0);
    if (!status.ok()) return status;
    return Status::Ok();
  }

 private:
  // The XML generator nests a type in a field, a container in a type: a
  // few levels. A deeper file is not its output.
  static constexpr int kMaxDepth = 200;

  Status Error(const std::string& what) const {
    return Status::Error("the compiler's XML at byte " + std::to_string(at_) + ": " + what);
  }

  bool Starts(const char* prefix) const {
    return text_.compare(at_, std::strlen(prefix), prefix) == 0;
  }

  // Text, comments, <?...?> and <!...> between elements.
  void SkipMisc() {
    while (at_ < text_.size()) {
      if (Starts("<!--")) {
        size_t end = text_.find("-->", at_);
        at_ = end == std::string::npos ? text_.size() : end + 3;
      } else if (Starts("<?") || Starts("<!")) {
        size_t end = text_.find('>', at_);
        at_ = end == std::string::npos ? text_.size() : end + 1;
      } else if (text_[at_] != '<') {
        ++at_;
      } else {
        return;
      }
    }
  }

  static std::string Unescape(const std::string& raw) {
    static const std::pair<const char*, char> kEntities[] = {
        {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
    std::string out;
    for (size_t i = 0; i < raw.size();) {
      bool replaced = false;
      for (const auto& [entity, c] : kEntities) {
        if (raw.compare(i, std::strlen(entity), entity) == 0) {
          out += c;
          i += std::strlen(entity);
          replaced = true;
          break;
        }
      }
      if (!replaced) out += raw[i++];
    }
    return out;
  }

  std::string Name() {
    size_t start = at_;
    while (at_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[at_])) &&
           text_[at_] != '=' && text_[at_] != '>' && text_[at_] != '/')
      ++at_;
    return text_.substr(start, at_ - start);
  }

  void SkipSpace() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }

  Status ReadElement(Element* element, int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    if (!Starts("<")) return Error("expected an element");
    ++at_;
    element->tag = Name();
    if (element->tag.empty()) return Error("an element without a name");
    while (true) {
      SkipSpace();
      if (Starts("/>")) {
        at_ += 2;
        return Status::Ok();
      }
      if (Starts(">")) {
        ++at_;
        break;
      }
      std::string name = Name();
      SkipSpace();
      if (name.empty() || !Starts("="))
        return Error("a malformed attribute of <" + element->tag + ">");
      ++at_;
      SkipSpace();
      if (at_ >= text_.size() || (text_[at_] != '"' && text_[at_] != '\''))
        return Error("an unquoted attribute");
      char quote = text_[at_++];
      size_t end = text_.find(quote, at_);
      if (end == std::string::npos) return Error("an unterminated attribute");
      element->attributes[name] = Unescape(text_.substr(at_, end - at_));
      at_ = end + 1;
    }
    while (true) {
      SkipMisc();
      if (at_ >= text_.size()) return Error("<" + element->tag + "> is not closed");
      if (Starts("</")) {
        size_t end = text_.find('>', at_);
        if (end == std::string::npos) return Error("an unterminated end tag");
        at_ = end + 1;
        return Status::Ok();
      }
      element->children.emplace_back();
      Status status = ReadElement(&element->children.back(), depth + 1);
      if (!status.ok()) return status;
    }
  }

  const std::string& text_;
  size_t at_ = 0;
};

// What every program's XML declares: its enums, and its typedefs' types.
struct Declarations {
  std::set<std::string> enums;                     ///< "program.Name"
  std::map<std::string, const Element*> typedefs;  ///< "program.Name" -> its type
};

// The type `node` (an element with type="..." attributes) stands for,
// through typedefs: an enum's qualified name, or "" with *resolved set to
// the element describing the type itself.
std::string EnumOf(const Declarations& declared, const Element* node, const Element** resolved) {
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
void Patch(const Declarations& declared, const std::string& program, const Element& node,
           json* holder, const char* id_key, const char* spec_key) {
  if (!holder->is_object() || !holder->contains(id_key)) return;
  const Element* resolved = &node;
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
    if (const Element* element = resolved->Child("elemType"))
      Patch(declared, program, *element, &spec, "elemTypeId", "elemType");
  } else if (type == "map") {
    if (const Element* key = resolved->Child("keyType"))
      Patch(declared, program, *key, &spec, "keyTypeId", "keyType");
    if (const Element* value = resolved->Child("valueType"))
      Patch(declared, program, *value, &spec, "valueTypeId", "valueType");
  }
}

void PatchProgram(const Declarations& declared, const Element& document, json* program) {
  std::string name = document.Attribute("name");
  if (program->contains("structs")) {
    for (json& def : (*program)["structs"]) {
      const Element* xml = nullptr;
      for (const char* tag : {"struct", "union", "exception"})
        if (xml == nullptr) xml = document.Child(tag, def.value("name", ""));
      if (xml == nullptr) continue;
      for (json& field : def["fields"])
        if (const Element* xml_field = xml->Child("field", field.value("name", "")))
          Patch(declared, name, *xml_field, &field, "typeId", "type");
    }
  }
  if (!program->contains("services")) return;
  for (json& service : (*program)["services"]) {
    const Element* xml = document.Child("service", service.value("name", ""));
    if (xml == nullptr) continue;
    for (json& function : service["functions"]) {
      const Element* method = xml->Child("method", function.value("name", ""));
      if (method == nullptr) continue;
      if (const Element* returns = method->Child("returns"))
        Patch(declared, name, *returns, &function, "returnTypeId", "returnType");
      for (json& argument : function["arguments"])
        if (const Element* arg = method->Child("arg", argument.value("name", "")))
          Patch(declared, name, *arg, &argument, "typeId", "type");
    }
  }
}

}  // namespace

Status RestoreEnumTypes(const std::vector<std::string>& xml_texts,
                        std::vector<nlohmann::json>* programs) {
  std::vector<Element> roots(xml_texts.size());
  for (size_t i = 0; i < xml_texts.size(); ++i) {
    Status status = XmlReader(xml_texts[i]).Read(&roots[i]);
    if (!status.ok()) return status;
  }
  Declarations declared;
  std::map<std::string, const Element*> documents;
  for (const Element& root : roots) {
    for (const Element& document : root.children) {
      if (document.tag != "document") continue;
      std::string program = document.Attribute("name");
      documents[program] = &document;
      for (const Element& child : document.children) {
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
