#include "tests/fuzz/allocation_limit.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

// GCC's and clang's ways of saying a sanitizer's allocator is linked in.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THRIFTD_FUZZ_MALLOC_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define THRIFTD_FUZZ_MALLOC_HOOKS 1
#endif
#endif

#ifdef THRIFTD_FUZZ_MALLOC_HOOKS
// sanitizer/allocator_interface.h, which GCC 12 does not ship; its runtimes
// have the function all the same.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace thriftd_fuzz {
namespace {

// 0 while disarmed. Relaxed: the hooks run on every allocation of every
// thread, and only the thread that armed the limit drives thriftd's code.
std::atomic<std::size_t> limit{0};
std::atomic<std::size_t> largest{0};

#ifdef THRIFTD_FUZZ_MALLOC_HOOKS
void OnMalloc(const volatile void*, std::size_t size) {
  std::size_t max = limit.load(std::memory_order_relaxed);
  if (max == 0) return;
  std::size_t seen = largest.load(std::memory_order_relaxed);
  while (size > seen && !largest.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
  }
  if (size <= max) return;
  limit.store(0, std::memory_order_relaxed);  // what follows may allocate
  char line[160];
  int n = std::snprintf(line, sizeof line,
                        "allocation_limit: an allocation of %zu bytes, over the bound of %zu\n",
                        size, max);
  if (n > 0) (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(n));
  std::abort();  // libFuzzer (or the replay) reports the input with a stack
}

void OnFree(const volatile void*) {}

const bool installed = __sanitizer_install_malloc_and_free_hooks(OnMalloc, OnFree) != 0;
#else
const bool installed = false;
#endif

}  // namespace

AllocationLimit::AllocationLimit(std::size_t max_bytes) {
  limit.store(max_bytes, std::memory_order_relaxed);
}

AllocationLimit::~AllocationLimit() { limit.store(0, std::memory_order_relaxed); }

bool AllocationLimit::Supported() { return installed; }

std::size_t AllocationLimit::Largest() { return largest.load(std::memory_order_relaxed); }

}  // namespace thriftd_fuzz
