#include "src/base/scoreboard.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace thriftd {
namespace {

constexpr size_t kHeaderBytes = 64;  // one cache line, keeping slots aligned

size_t MappedBytes() { return kHeaderBytes + sizeof(ScoreboardSlot) * Scoreboard::kMaxSlots; }

}  // namespace

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "scoreboard atomics must be lock-free to live in shared memory");

Status Scoreboard::Create(std::unique_ptr<Scoreboard>* scoreboard) {
  void* memory =
      mmap(nullptr, MappedBytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return Status::FromErrno("mmap(scoreboard)", errno);
  // Anonymous memory is zeroed: every slot starts free.
  auto* header = static_cast<Header*>(memory);
  auto* slots = reinterpret_cast<ScoreboardSlot*>(static_cast<char*>(memory) + kHeaderBytes);
  scoreboard->reset(new Scoreboard(header, slots));
  return Status::Ok();
}

Scoreboard::~Scoreboard() { munmap(header_, MappedBytes()); }

void Scoreboard::Reset(int index) {
  if (index + 1 > slot_limit()) header_->slot_limit.store(index + 1, std::memory_order_relaxed);
  // No process owns the slot now, so plain zeroing is safe; the atomics are
  // lock-free, so they hold no state beyond their bytes.
  std::memset(static_cast<void*>(&slots_[index]), 0, sizeof(ScoreboardSlot));
}

const char* CallOutcomeName(CallOutcome outcome) {
  switch (outcome) {
    case CallOutcome::kOk:
      return "ok";
    case CallOutcome::kDeclaredException:
      return "declared_exception";
    case CallOutcome::kApplicationException:
      return "application_exception";
    case CallOutcome::kProtocolError:
      return "protocol_error";
  }
  return "unknown";
}

}  // namespace thriftd
