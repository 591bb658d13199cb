// Blocker: a service whose handler truly blocks its thread, for the fiber
// worker's watchdog tests (tests/integration/test_worker_kinds.py).
namespace cpp blocker
namespace py blocker

service Blocker {
  string ping(),
  // Blocks the calling thread for `ms` milliseconds with
  // std::this_thread::sleep_for -- deliberately NOT thriftd::sleep_for -- so
  // under -k fiber it stalls the whole event loop, as a careless handler would.
  void block(1:i32 ms),
  // Blocks the thread for block_ms (as block), then waits sleep_ms with
  // thriftd::sleep_for (which parks the fiber under -k fiber): a handler that
  // computes, then waits. The call must take at least block_ms + sleep_ms.
  void blockThenSleep(1:i32 block_ms, 2:i32 sleep_ms)
}
