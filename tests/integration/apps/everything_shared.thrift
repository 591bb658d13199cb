// Included by everything.thrift: `thriftd call` must follow includes.
namespace cpp everything_shared

struct Point {
  1: required i32 x,
  2: required i32 y,
}

service SharedBase {
  string ping(),
}
