// A schema read from one program's JSON or from a bundle of them, and the
// bundle it writes (call/schema.h).
#include "call/schema.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace thriftd::call {
namespace {

using nlohmann::json;

constexpr char kShared[] = R"({"name": "shared", "enums": [{"name": "Color",
  "members": [{"name": "RED", "value": 1}]}]})";
constexpr char kMain[] = R"({"name": "main", "includes": ["shared"], "services": [{"name": "Svc",
  "functions": [{"name": "get", "returnTypeId": "enum",
    "returnType": {"typeId": "enum", "class": "shared.Color"}, "arguments": []}]}]})";

TEST_CASE("schema: programs read one by one make a bundle that reads back as itself") {
  Schema schema;
  std::vector<std::string> includes;
  REQUIRE(schema.LoadText(kMain, "main.json", &includes).ok());
  CHECK(includes == std::vector<std::string>{"shared"});
  REQUIRE(schema.LoadText(kShared, "shared.json").ok());
  std::string bundle = schema.Bundle();
  CHECK(json::parse(bundle) ==
        json{{"thriftdSchema", 1}, {"programs", {json::parse(kMain), json::parse(kShared)}}});
  Schema again;
  REQUIRE(again.LoadText(bundle, "bundle.json").ok());
  CHECK(again.Bundle() == bundle);
  const Service* service = again.FindService("Svc");
  REQUIRE(service != nullptr);
  const Method* get = again.FindMethod(*service, "get");
  REQUIRE(get != nullptr);
  CHECK(get->result.name == "shared.Color");
  CHECK(again.FindEnum("shared.Color") != nullptr);
}

TEST_CASE("schema: a bundle's broken program is an error naming the bundle") {
  Schema schema;
  std::string bundle =
      json{{"thriftdSchema", 1}, {"programs", {json::parse(kShared), json{{"enums", 1}}}}}.dump();
  CHECK(schema.LoadText(bundle, "http://h:1/schema")
            .message()
            .rfind("http://h:1/schema: not a Thrift JSON schema: ", 0) == 0);
  CHECK(schema.LoadText(R"({"thriftdSchema": 2, "programs": []})", "b.json").message() ==
        "b.json: not a thriftd schema bundle of version 1");
}

}  // namespace
}  // namespace thriftd::call
