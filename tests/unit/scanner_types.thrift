// Every kind of value Apache Thrift writes, for message_scanner_test.cc: the
// scanner must find where a message holding them ends, in each encoding,
// without decoding it.
namespace cpp scanner_test

enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 3,
}

struct Point {
  1: i32 x,
  2: i32 y,
  3: optional string label,
}

struct Shape {
  1: string name,
  2: list<Point> corners,
  3: Point center,
}

struct Everything {
  1: bool yes,
  2: bool no,
  3: byte tiny,
  4: i16 small,
  5: i32 medium,
  6: i64 large,
  7: double real,
  8: string text,
  9: binary blob,
  10: Color color,
  11: Point point,
  12: Shape shape,
  13: list<i32> ints,
  14: set<i64> longs,
  15: map<i16, double> weights,
  16: list<string> names,
  17: set<string> tags,
  18: map<string, string> labels,
  19: list<Point> points,
  20: map<string, Point> places,
  21: list<bool> flags,
  22: map<bool, byte> bits,
  23: list<i32> no_ints,
  24: set<string> no_tags,
  25: map<i32, Point> no_places,
  26: list<Point> no_points,
  27: list<list<i32>> grid,
  28: map<i32, list<string>> index,
  29: list<byte> octets,
  30: list<i16> shorts,
  // Large lists of fixed-size elements (in compact, only bytes, bools and
  // doubles have a fixed size).
  31: list<i64> many,
  32: list<double> doubles,
  33: optional string unset,
  // Compact: a field id more than 15 past the last one takes the long form.
  300: string far,
}

// One large list: the scanner passes its elements in one step.
struct Bulk {
  1: list<i64> values,
}

struct BulkDoubles {
  1: list<double> values,
}
