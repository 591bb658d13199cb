// Closing every inherited descriptor but a few, in a child between fork and
// its work (a worker) or exec (a new master): the master holds descriptors
// a child must not (other workers' channels, the metrics socket), and
// close-on-exec does not help a child that never execs.
#ifndef THRIFTD_SRC_CLOSE_DESCRIPTORS_H_
#define THRIFTD_SRC_CLOSE_DESCRIPTORS_H_

#include <vector>

#include "src/base/status.h"

namespace thriftd {

/// The descriptors open in this process now, sorted (from /proc/self/fd).
Status OpenDescriptors(std::vector<int>* fds);

/// `keep` plus stdin, stdout, stderr and the error log's descriptor:
/// sorted, unique, none negative. Call before fork: the child allocates nothing.
std::vector<int> DescriptorsToKeep(std::vector<int> keep);

/// Closes every descriptor not in `keep` (as DescriptorsToKeep returns it).
/// Async-signal-safe: for a child of fork().
void CloseAllBut(const std::vector<int>& keep);

}  // namespace thriftd

#endif  // THRIFTD_SRC_CLOSE_DESCRIPTORS_H_
