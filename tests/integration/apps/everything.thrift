// Everything: every Thrift type, for `thriftd call`'s round trips
// (tests/integration/test_call.py), after the coverage of Apache Thrift's
// ThriftTest.thrift. Each echo method returns its argument unchanged.
include "everything_shared.thrift"

namespace cpp everything

typedef i64 UserId
typedef list<everything_shared.Point> Path

enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 7,
}

union Choice {
  1: i32 number,
  2: string text,
  3: everything_shared.Point point,
}

exception Oops {
  1: i32 code,
  2: string message,
}

struct AllTypes {
  1: bool flag,
  2: i8 tiny,
  3: i16 small,
  4: i32 medium,
  5: i64 large,
  6: double real,
  7: string text,
  8: binary blob,
  9: Color color,
  10: UserId user,
  11: everything_shared.Point point,
  12: Path path,
  13: list<i32> numbers,
  14: set<string> tags,
  15: map<string, i64> counts,
  16: map<i32, string> names,
  17: map<i64, everything_shared.Point> places,
  18: list<map<string, list<everything_shared.Point>>> nested,
  19: set<Color> colors,
  20: map<Color, double> weights,
  21: list<binary> blobs,
  22: Choice choice,
  23: optional string maybe,
  24: required string must,
}

service Everything extends everything_shared.SharedBase {
  AllTypes echoAll(1: AllTypes value),
  bool echoBool(1: bool value),
  i8 echoByte(1: i8 value),
  i16 echoI16(1: i16 value),
  i32 echoI32(1: i32 value),
  i64 echoI64(1: i64 value),
  double echoDouble(1: double value),
  string echoString(1: string value),
  binary echoBinary(1: binary value),
  Color echoEnum(1: Color value),
  UserId echoTypedef(1: UserId value),
  Choice echoUnion(1: Choice value),
  list<everything_shared.Point> echoList(1: list<everything_shared.Point> value),
  set<i64> echoSet(1: set<i64> value),
  map<i32, string> echoMap(1: map<i32, string> value),
  i32 add(1: required i32 a, 2: required i32 b),
  void nothing(),
  // Throws Oops(code, message) unless code is 0.
  void fail(1: i32 code, 2: string message) throws (1: Oops oops),
  // Counts its calls; fired() says how many arrived.
  oneway void fire(1: string note),
  i32 fired(),
}
