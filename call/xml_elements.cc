#include "call/xml_elements.h"

#include <cctype>
#include <cstring>

namespace thriftd::call {
namespace {

class XmlReader {
 public:
  explicit XmlReader(const std::string& text) : text_(text) {}

  // The document's root element.
  Status Read(XmlElement* root) {
    SkipMisc();
    return ReadElement(root, 0);
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

  Status ReadElement(XmlElement* element, int depth) {
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

}  // namespace

Status ReadXmlElements(const std::string& text, XmlElement* root) {
  return XmlReader(text).Read(root);
}

}  // namespace thriftd::call
