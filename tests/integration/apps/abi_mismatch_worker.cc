// A shared object whose worker kind entry claims ABI version 999, as one
// built against another thriftd's worker.h would: loading it as `-k PATH.so`
// must fail naming both versions (a kind compiled against another layout of
// WorkerContext would call the wrong virtual functions).
#include <thriftd/worker.h>

namespace {

thriftd::Worker* CreateNothing() { return nullptr; }

}  // namespace

extern "C" __attribute__((visibility("default")))
const thriftd::WorkerEntry thriftd_worker_FutureWorker = {999, "FutureWorker", &CreateNothing};

extern "C" __attribute__((visibility("default")))
const thriftd::WorkerEntry* const thriftd_worker_default = &thriftd_worker_FutureWorker;
