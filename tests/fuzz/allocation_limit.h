// A bound on every single allocation a fuzz input causes: a target arms it
// around the code it drives, and an allocation larger than the bound aborts
// with its size (libFuzzer then saves the input). It is how the Thrift read
// path shows that no length a client writes (a 2 GiB frame or string)
// makes thriftd allocate more than the configured message size.
//
// Works where a sanitizer's allocator runs (the clang fuzzing build, and the
// gcc ASan and TSan builds replaying the corpus): its malloc hook sees every
// malloc, new and realloc. In an unsanitized build Armed() does nothing.
#ifndef THRIFTD_TESTS_FUZZ_ALLOCATION_LIMIT_H_
#define THRIFTD_TESTS_FUZZ_ALLOCATION_LIMIT_H_

#include <cstddef>

namespace thriftd_fuzz {

/// While one lives, an allocation of more than `max_bytes` aborts the
/// process. One at a time, on the thread running the input.
class AllocationLimit {
 public:
  explicit AllocationLimit(std::size_t max_bytes);
  ~AllocationLimit();
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;

  /// Whether this build can watch allocations at all.
  static bool Supported();
  /// The largest allocation seen while armed, over the process's life.
  static std::size_t Largest();
};

}  // namespace thriftd_fuzz

#endif  // THRIFTD_TESTS_FUZZ_ALLOCATION_LIMIT_H_
