// The smallest useful service: the one the README's quick-start serves.
namespace cpp pingpong
namespace py pingpong

exception AboutToShutDownException {}

service PingPong {
  string ping(),
  i32 add(1:i32 a, 2:i32 b),
  binary echo(1:binary data),
  void sleep(1:i32 ms)
}
