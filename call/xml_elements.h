// The elements and attributes of an XML document, as far as `thriftd call`
// needs them: the Thrift compiler's XML generator output (enum_types.h).
// Text content, comments and declarations are skipped.
#ifndef THRIFTD_CALL_XML_ELEMENTS_H_
#define THRIFTD_CALL_XML_ELEMENTS_H_

#include <map>
#include <string>
#include <vector>

#include "src/base/status.h"

namespace thriftd::call {

/// One element: its tag, attributes (entities decoded) and child elements.
struct XmlElement {
  std::string tag;
  std::map<std::string, std::string> attributes;
  std::vector<XmlElement> children;

  std::string Attribute(const std::string& name) const {
    auto found = attributes.find(name);
    return found == attributes.end() ? "" : found->second;
  }
  const XmlElement* Child(const std::string& child_tag, const std::string& name = "") const {
    for (const XmlElement& child : children)
      if (child.tag == child_tag && (name.empty() || child.Attribute("name") == name))
        return &child;
    return nullptr;
  }
};

/// Reads `text`'s root element into `root`. An error says at which byte.
/// Nesting deeper than 200 elements is an error (the generator nests a
/// few).
Status ReadXmlElements(const std::string& text, XmlElement* root);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_XML_ELEMENTS_H_
