// JSON <-> Thrift values (call/value_codec.h): what `thriftd call` writes
// from JSON is what it reads back, in every protocol, and every mistake in
// the JSON is one message naming where it is.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "call/base64.h"
#include "call/value_codec.h"

namespace thriftd::call {
namespace {

using apache::thrift::transport::TMemoryBuffer;

// A program as the compiler's JSON generator writes it, with enum types
// named (as Thrift's newer generators do).
constexpr char kSchema[] = R"({
  "name": "t",
  "includes": [],
  "enums": [{"name": "Color", "members": [{"name": "RED", "value": 1}, {"name": "BLUE", "value": 7}]}],
  "structs": [
    {"name": "Point", "isException": false, "isUnion": false, "fields": [
      {"key": 1, "name": "x", "typeId": "i32", "required": "required"},
      {"key": 2, "name": "y", "typeId": "i32", "required": "req_out"}]},
    {"name": "Choice", "isException": false, "isUnion": true, "fields": [
      {"key": 1, "name": "n", "typeId": "i64", "required": "optional"},
      {"key": 2, "name": "s", "typeId": "string", "required": "optional"}]},
    {"name": "All", "isException": false, "isUnion": false, "fields": [
      {"key": 1, "name": "b", "typeId": "bool", "required": "req_out"},
      {"key": 2, "name": "i8", "typeId": "i8", "required": "req_out"},
      {"key": 3, "name": "i16", "typeId": "i16", "required": "req_out"},
      {"key": 4, "name": "i64", "typeId": "i64", "required": "req_out"},
      {"key": 5, "name": "d", "typeId": "double", "required": "req_out"},
      {"key": 6, "name": "bin", "typeId": "binary", "required": "req_out"},
      {"key": 7, "name": "c", "typeId": "enum", "type": {"typeId": "enum", "class": "Color"},
       "required": "req_out"},
      {"key": 8, "name": "p", "typeId": "struct", "type": {"typeId": "struct", "class": "Point"},
       "required": "optional"},
      {"key": 9, "name": "u", "typeId": "union", "type": {"typeId": "union", "class": "Choice"},
       "required": "optional"},
      {"key": 10, "name": "byColor", "typeId": "map", "type": {"typeId": "map",
       "keyTypeId": "enum", "keyType": {"typeId": "enum", "class": "Color"},
       "valueTypeId": "list", "valueType": {"typeId": "list", "elemTypeId": "string"}},
       "required": "req_out"},
      {"key": 11, "name": "byPoint", "typeId": "map", "type": {"typeId": "map",
       "keyTypeId": "i64", "valueTypeId": "set",
       "valueType": {"typeId": "set", "elemTypeId": "struct",
                     "elemType": {"typeId": "struct", "class": "Point"}}},
       "required": "req_out"}]}
  ],
  "services": []
})";

Schema LoadedSchema() {
  Schema schema;
  Status status = schema.LoadText(kSchema, "t.json");
  REQUIRE_MESSAGE(status.ok(), status.message());
  return schema;
}

Type Of(Kind kind) {
  Type type;
  type.kind = kind;
  return type;
}

Type StructType(const std::string& name) {
  Type type;
  type.kind = Kind::kStruct;
  type.name = "t." + name;
  return type;
}

template <typename Protocol>
Json RoundTrip(const Schema& schema, const Type& type, const Json& value) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  Protocol protocol(buffer);
  Status status = WriteValue(&protocol, schema, type, value, "value");
  REQUIRE_MESSAGE(status.ok(), status.message());
  return ReadValue(&protocol, schema, type);
}

std::string WriteError(const Schema& schema, const Type& type, const std::string& json) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  Status status = WriteValue(&protocol, schema, type, Json::parse(json), "argument v");
  return status.ok() ? "ok" : status.message();
}

const char kAll[] = R"({
  "b": true, "i8": -128, "i16": 32767, "i64": 9007199254740993, "d": 0.1,
  "bin": "AP8Q", "c": "BLUE", "p": {"x": 1, "y": -1}, "u": {"n": -9223372036854775808},
  "byColor": {"BLUE": ["a", ""], "RED": []},
  "byPoint": [[-1, [{"x": 0, "y": 0}]], [4294967296, []]]
})";

}  // namespace

TEST_CASE("every type round-trips through the binary, compact and JSON protocols") {
  Schema schema = LoadedSchema();
  Json all = Json::parse(kAll);
  using namespace apache::thrift::protocol;
  CHECK(RoundTrip<TBinaryProtocol>(schema, StructType("All"), all) == all);
  CHECK(RoundTrip<TCompactProtocol>(schema, StructType("All"), all) == all);
  CHECK(RoundTrip<TJSONProtocol>(schema, StructType("All"), all) == all);
}

TEST_CASE("an i64 beyond 2^53 stays exact, both ways") {
  Schema schema = LoadedSchema();
  Json value = Json::parse("9007199254740993");
  Json back = RoundTrip<apache::thrift::protocol::TBinaryProtocol>(schema, Of(Kind::kI64), value);
  CHECK(back.dump() == "9007199254740993");
  CHECK(RoundTrip<apache::thrift::protocol::TBinaryProtocol>(schema, Of(Kind::kI64),
                                                             Json::parse("-9223372036854775808"))
            .dump() == "-9223372036854775808");
}

TEST_CASE("an enum is written by name or number and read back by name") {
  Schema schema = LoadedSchema();
  Type color = Of(Kind::kEnum);
  color.name = "t.Color";
  using apache::thrift::protocol::TBinaryProtocol;
  CHECK(RoundTrip<TBinaryProtocol>(schema, color, 7) == "BLUE");
  CHECK(RoundTrip<TBinaryProtocol>(schema, color, "RED") == "RED");
  CHECK(RoundTrip<TBinaryProtocol>(schema, color, 3) == 3);  // newer than the IDL: as it came
  CHECK(WriteError(schema, color, "\"GREEN\"") ==
        "argument v: \"GREEN\" is not a member of enum Color");
}

TEST_CASE("doubles: numbers, and NaN and the infinities as strings") {
  Schema schema = LoadedSchema();
  using apache::thrift::protocol::TCompactProtocol;
  for (const char* text : {"\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "-0.5", "1e+300"})
    CHECK(RoundTrip<TCompactProtocol>(schema, Of(Kind::kDouble), Json::parse(text)) ==
          Json::parse(text));
  CHECK(RoundTrip<TCompactProtocol>(schema, Of(Kind::kDouble), 2) == 2.0);
}

TEST_CASE("a mistake in the JSON names the value, what was expected and what came") {
  Schema schema = LoadedSchema();
  CHECK(WriteError(schema, Of(Kind::kI32), "\"x\"") == "argument v: expected i32, got \"x\"");
  CHECK(WriteError(schema, Of(Kind::kI32), "1.5") == "argument v: expected i32, got 1.5");
  CHECK(WriteError(schema, Of(Kind::kByte), "128") == "argument v: 128 is out of range for i8");
  CHECK(WriteError(schema, Of(Kind::kI64), "9223372036854775808") ==
        "argument v: 9223372036854775808 is out of range for i64");
  CHECK(WriteError(schema, Of(Kind::kBool), "1") == "argument v: expected bool, got 1");
  CHECK(WriteError(schema, Of(Kind::kBinary), "\"not base64!\"") ==
        "argument v: expected binary (base64), got \"not base64!\"");
  CHECK(WriteError(schema, StructType("Point"), "{\"y\": 1}") ==
        "argument v: missing required field x of Point");
  CHECK(WriteError(schema, StructType("Point"), "{\"x\": 1, \"z\": 1}") ==
        "argument v: Point has no field \"z\"");
  CHECK(WriteError(schema, StructType("Choice"), "{\"n\": 1, \"s\": \"a\"}") ==
        "argument v: union Choice takes exactly one field, got 2");
  CHECK(WriteError(schema, StructType("All"), R"({"p": {"x": "one"}})") ==
        "argument v.p.x: expected i32, got \"one\"");
  CHECK(WriteError(schema, StructType("All"), R"({"byPoint": [[1, [{"x": 1}, {"x": true}]]]})") ==
        "argument v.byPoint[1][1].x: expected i32, got true");
  CHECK(WriteError(schema, StructType("All"), R"({"byPoint": {"1": []}})") ==
        "argument v.byPoint: expected [[key, value], ...], got {\"1\":[]}");
}

TEST_CASE("a method's arguments: a missing required one, an unknown one") {
  Schema schema = LoadedSchema();
  const StructDef* point = schema.FindStruct("t.Point");
  REQUIRE(point != nullptr);
  auto buffer = std::make_shared<TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  Status status = WriteStruct(&protocol, schema, point->fields, "f_args", false,
                              Json::parse("{\"y\": 2}"), "arguments", true);
  CHECK(status.message() == "missing required argument x");
  status = WriteStruct(&protocol, schema, point->fields, "f_args", false,
                       Json::parse("{\"x\": 1, \"w\": 2}"), "arguments", true);
  CHECK(status.message() == "unknown argument \"w\" of f_args");
}

TEST_CASE("a reply with a field the schema does not know is read past it") {
  Schema schema = LoadedSchema();
  auto buffer = std::make_shared<TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  protocol.writeStructBegin("Point");
  protocol.writeFieldBegin("x", apache::thrift::protocol::T_I32, 1);
  protocol.writeI32(5);
  protocol.writeFieldEnd();
  protocol.writeFieldBegin("later", apache::thrift::protocol::T_STRING, 9);
  protocol.writeString(std::string("added by a newer server"));
  protocol.writeFieldEnd();
  protocol.writeFieldBegin("y", apache::thrift::protocol::T_STRING, 2);  // a changed type
  protocol.writeString(std::string("not an i32"));
  protocol.writeFieldEnd();
  protocol.writeFieldStop();
  protocol.writeStructEnd();
  CHECK(ReadValue(&protocol, schema, StructType("Point")) == Json::parse("{\"x\": 5}"));
}

TEST_CASE("base64 encodes and decodes every byte, with or without padding") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t length : {0, 1, 2, 3, 4, 256}) {
    std::string part = bytes.substr(0, length), back;
    CHECK(Base64Decode(Base64Encode(part), &back));
    CHECK(back == part);
  }
  std::string decoded;
  CHECK(Base64Encode("ab") == "YWI=");
  CHECK(Base64Decode("YWI", &decoded));
  CHECK(decoded == "ab");
  CHECK_FALSE(Base64Decode("Y", &decoded));
  CHECK_FALSE(Base64Decode("YW I=", &decoded));
  CHECK_FALSE(Base64Decode("YWI===", &decoded));
}

TEST_CASE("the schema qualifies names by program and follows extends") {
  Schema schema;
  REQUIRE(schema
              .LoadText(R"({"name": "base", "services": [
      {"name": "Base", "functions": [{"name": "ping", "returnTypeId": "string",
        "oneway": false, "arguments": [], "exceptions": []}]}]})",
                        "base.json")
              .ok());
  REQUIRE(schema
              .LoadText(R"({"name": "main", "services": [
      {"name": "Main", "extends": "base.Base", "functions": []}]})",
                        "main.json")
              .ok());
  // The first program loaded is the main one ("base"); another's service
  // is found by its qualified name, or by its bare name when that is unique.
  const Service* main = schema.FindService("main.Main");
  REQUIRE(main != nullptr);
  CHECK(schema.FindService("Main") == main);
  CHECK(schema.DisplayName(main->name) == "main.Main");
  const Method* ping = schema.FindMethod(*main, "ping");
  REQUIRE(ping != nullptr);
  CHECK(ping->result.kind == Kind::kString);
  CHECK(schema.FindService("Base") != nullptr);
  Status status = schema.LoadText(R"({"name": "bad", "structs": [{"name": "S",
      "fields": [{"key": 1, "name": "f", "typeId": "tuple"}]}]})",
                                  "bad.json");
  CHECK(status.message() == "bad.json: not a Thrift JSON schema: unknown typeId \"tuple\"");
}

}  // namespace thriftd::call
