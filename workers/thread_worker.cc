#include "workers/thread_worker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/base/unique_fd.h"
#include "workers/poll_waiter.h"

namespace thriftd {
namespace {

// Leader/follower: every pool thread blocks in epoll_wait on the worker's one
// epoll fd and serves what it gets itself, so a call costs epoll_wait, recv
// and send, with no hand-off between threads (no futex, no thread switch).
//
// Connections live in a table of slots that is never shrunk while threads
// run, and are named in epoll_data by slot index and a generation that is
// bumped when the slot is freed, so an event for a closed connection (already
// returned by epoll_wait to some thread) is recognised and ignored.
//
// A slot's state word: generation (high 32 bits), a sequence bumped each time
// it goes idle (bits 2..31), pending (bit 1: data came while busy, serve
// again) and busy (bit 0: claimed by one thread, which alone may serve,
// close or hand it over). Connection fds are edge-triggered and persistent:
// exactly one thread gets each arrival, and going idle needs no epoll_ctl.

constexpr std::uint64_t kBusy = 1;
constexpr std::uint64_t kPending = 2;
constexpr std::uint64_t kSeqOne = 4;
constexpr std::uint64_t kSeqMask = 0xfffffffcULL;
constexpr std::uint64_t kGenMask = 0xffffffff00000000ULL;

constexpr int kTickMs = 100;          // heartbeat, accept re-check, idle sweep
constexpr long kRecheckNs = 5000000;  // while declining to accept

// Control events: generation 0 (connections start at generation 1).
constexpr std::uint64_t kStopTag = 0;
constexpr std::uint64_t kChannelTag = 1;
constexpr std::uint64_t kWakeTag = 2;
constexpr std::uint64_t kRecheckTag = 3;
constexpr std::uint64_t kListenerTag = 16;  // + listener index

constexpr int kChunkBits = 10;
constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
constexpr std::uint32_t kMaxChunks = 1u << 16;

struct Slot {
  std::atomic<std::uint64_t> word{(std::uint64_t{1} << 32) | kBusy};  // free: busy
  std::atomic<std::int64_t> last_active_ms{0};
  std::unique_ptr<ThriftConnection> connection;  // set and reset by the claimant only
};

class LeaderFollowerPool {
 public:
  explicit LeaderFollowerPool(WorkerContext& context)
      : context_(context),
        epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        recheck_fd_(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
        chunks_(new std::atomic<Slot*>[kMaxChunks]),
        idle_timeout_ms_(context.client_timeout > 0
                             ? std::max<std::int64_t>(
                                   1, static_cast<std::int64_t>(context.client_timeout * 1000))
                             : 0) {
    for (std::uint32_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr);
  }

  ~LeaderFollowerPool() {
    for (std::uint32_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load();
  }

  void Run() {
    Register(context_.stop_fd(), EPOLLIN | EPOLLONESHOT, kStopTag, EPOLL_CTL_ADD);
    Register(context_.channel_fd(), EPOLLIN | EPOLLONESHOT, kChannelTag, EPOLL_CTL_ADD);
    Register(wake_fd_.get(), EPOLLIN, kWakeTag, EPOLL_CTL_ADD);  // level: wakes every thread
    Register(recheck_fd_.get(), EPOLLONESHOT, kRecheckTag, EPOLL_CTL_ADD);
    listener_armed_.assign(context_.listen_fds.size(), false);
    for (std::size_t i = 0; i < context_.listen_fds.size(); ++i)
      Register(context_.listen_fds[i], EPOLLONESHOT, kListenerTag + i, EPOLL_CTL_ADD);
    context_.Heartbeat();
    last_tick_ms_.store(MonotonicMillis());
    {
      std::lock_guard<std::mutex> lock(control_);
      UpdateAccepting();
    }
    std::vector<std::thread> threads;
    for (int i = 1; i < std::max(1, context_.threads); ++i)
      threads.emplace_back([this] { ThreadMain(); });
    ThreadMain();
    for (std::thread& thread : threads) thread.join();
    // Alone now: whatever is still held (idle) goes to a successor or closes.
    for (std::uint32_t i = 0, n = slot_count_.load(); i < n; ++i) {
      Slot& slot = At(i);
      if (!slot.connection) continue;
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, slot.connection->fd(), nullptr);
      context_.HandOver(*slot.connection);
      slot.connection.reset();
    }
    context_.ReportConnections(0);
  }

 private:
  void Register(int fd, std::uint32_t events, std::uint64_t tag, int op) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = tag;
    epoll_ctl(epoll_fd_.get(), op, fd, &event);
  }

  Slot& At(std::uint32_t index) {
    return chunks_[index >> kChunkBits].load(std::memory_order_acquire)[index & (kChunkSize - 1)];
  }

  void ThreadMain() {
    PollWaiter waiter(context_, /*idle_between_messages=*/true);
    while (!done_.load(std::memory_order_acquire)) {
      epoll_event event;
      int n = epoll_wait(epoll_fd_.get(), &event, 1, kTickMs);
      if (done_.load(std::memory_order_acquire)) break;
      // This thread is free: the worker is responsive.
      std::int64_t now = MonotonicMillis();
      std::int64_t last = last_tick_ms_.load(std::memory_order_relaxed);
      if (now - last >= kTickMs && last_tick_ms_.compare_exchange_strong(last, now)) Tick(now);
      if (n <= 0) continue;
      std::uint64_t tag = event.data.u64;
      if ((tag >> 32) != 0) {
        OnConnectionEvent(static_cast<std::uint32_t>(tag), tag & kGenMask, waiter);
      } else if (tag >= kListenerTag) {
        OnListener(static_cast<std::size_t>(tag - kListenerTag), waiter);
      } else if (tag == kStopTag) {
        OnStop();
      } else if (tag == kChannelTag) {
        OnChannel(waiter);
      } else if (tag == kRecheckTag) {
        std::lock_guard<std::mutex> lock(control_);
        std::uint64_t expirations;
        ssize_t ignored = read(recheck_fd_.get(), &expirations, sizeof expirations);
        (void)ignored;
        recheck_armed_ = false;
        UpdateAccepting();
      }
    }
  }

  // Heartbeat, accept re-check and idle sweep, by whichever free thread
  // wakes first after kTickMs: a pool whose every thread is stuck in a
  // handler stops the heartbeat, and the master finds it hung.
  void Tick(std::int64_t now) {
    context_.Heartbeat();
    context_.ReportConnections(held_.load());
    {
      std::lock_guard<std::mutex> lock(control_);
      UpdateAccepting();
    }
    if (idle_timeout_ms_ > 0) Sweep(now, /*stopping=*/false);
  }

  // Under control_.
  void UpdateAccepting() {
    if (stopping_.load()) return;
    if (context_.ShouldAccept(held_.load())) {
      for (std::size_t i = 0; i < listener_armed_.size(); ++i) {
        if (listener_armed_[i]) continue;
        listener_armed_[i] = true;
        Register(context_.listen_fds[i], EPOLLIN | EPOLLONESHOT, kListenerTag + i, EPOLL_CTL_MOD);
      }
    } else if (!recheck_armed_) {
      // Declining (others hold fewer, or no descriptors left): look again
      // soon, so a burst is not left in the backlog.
      recheck_armed_ = true;
      itimerspec spec{};
      spec.it_value.tv_nsec = kRecheckNs;
      timerfd_settime(recheck_fd_.get(), 0, &spec, nullptr);
      Register(recheck_fd_.get(), EPOLLIN | EPOLLONESHOT, kRecheckTag, EPOLL_CTL_MOD);
    }
  }

  void OnListener(std::size_t index, PollWaiter& waiter) {
    std::unique_ptr<ThriftConnection> connection;
    {
      std::lock_guard<std::mutex> lock(control_);
      listener_armed_[index] = false;
      // One connection per wakeup, then ask again: the balance may have changed.
      if (!stopping_.load() && context_.ShouldAccept(held_.load())) {
        int fd = context_.Accept(context_.listen_fds[index]);
        if (fd >= 0) connection = context_.OpenConnection(fd);
        if (connection) held_.fetch_add(1);
      }
      UpdateAccepting();
    }
    if (connection) Hold(std::move(connection), waiter);
  }

  void OnChannel(PollWaiter& waiter) {
    std::vector<std::unique_ptr<ThriftConnection>> adopted;
    {
      std::lock_guard<std::mutex> lock(control_);
      while (std::unique_ptr<ThriftConnection> connection = context_.AdoptConnection()) {
        held_.fetch_add(1);
        adopted.push_back(std::move(connection));
      }
      // The master is gone (end of file keeps the channel readable): stop watching.
      if (!context_.stop_requested())
        Register(context_.channel_fd(), EPOLLIN | EPOLLONESHOT, kChannelTag, EPOLL_CTL_MOD);
      UpdateAccepting();
    }
    for (auto& connection : adopted) Hold(std::move(connection), waiter);
  }

  void OnStop() {
    stopping_.store(true);
    // Idle connections go at once (claimed, so no turn starts on them); busy
    // ones when their turn ends.
    Sweep(0, /*stopping=*/true);
    MaybeFinish();
  }

  // Claims idle connections (idle too long, or all when stopping) and closes
  // or hands them over.
  void Sweep(std::int64_t now, bool stopping) {
    for (std::uint32_t i = 0, n = slot_count_.load(std::memory_order_acquire); i < n; ++i) {
      Slot& slot = At(i);
      std::uint64_t word = slot.word.load(std::memory_order_acquire);
      if (word & kBusy) continue;
      if (!stopping &&
          now - slot.last_active_ms.load(std::memory_order_relaxed) <= idle_timeout_ms_)
        continue;
      busy_.fetch_add(1);
      // The sequence makes this fail if the connection was served meanwhile.
      if (!slot.word.compare_exchange_strong(word, word | kBusy)) {
        BusyDone();
        continue;
      }
      if (stopping) {
        Close(i, slot, /*hand_over=*/true);
      } else {
        THRIFTD_LOG(kDebug) << "closing an idle connection: idle past thrift_client_timeout";
        Close(i, slot, /*hand_over=*/false);
      }
    }
  }

  // A new or adopted connection (already counted in held_): give it a slot,
  // register it, and leave it idle (or serve it, if data came meanwhile).
  void Hold(std::unique_ptr<ThriftConnection> connection, PollWaiter& waiter) {
    context_.ReportConnections(held_.load());
    std::uint32_t index;
    {
      std::lock_guard<std::mutex> lock(table_);
      if (!free_.empty()) {
        index = free_.back();
        free_.pop_back();
      } else {
        index = slot_count_.load(std::memory_order_relaxed);
        std::uint32_t chunk = index >> kChunkBits;
        if (chunk >= kMaxChunks) {  // ~67M connections: not reached in practice
          held_.fetch_sub(1);
          return;
        }
        if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr)
          chunks_[chunk].store(new Slot[kChunkSize], std::memory_order_release);
        slot_count_.store(index + 1, std::memory_order_release);
      }
    }
    Slot& slot = At(index);  // busy (free slots are): ours
    int fd = connection->fd();
    slot.connection = std::move(connection);
    busy_.fetch_add(1);
    std::uint64_t gen = slot.word.load(std::memory_order_relaxed) & kGenMask;
    Register(fd, EPOLLIN | EPOLLET, gen | index, EPOLL_CTL_ADD);
    Turns(index, slot, /*serve_first=*/false, waiter);
  }

  void OnConnectionEvent(std::uint32_t index, std::uint64_t gen, PollWaiter& waiter) {
    Slot& slot = At(index);
    std::uint64_t word = slot.word.load(std::memory_order_acquire);
    for (;;) {
      if ((word & kGenMask) != gen) return;  // closed since: a stale event
      if (word & kBusy) {
        // Being served, and the server may already have looked and found
        // nothing: have it serve again.
        if ((word & kPending) ||
            slot.word.compare_exchange_weak(word, word | kPending, std::memory_order_acq_rel))
          return;
        continue;
      }
      busy_.fetch_add(1);
      if (slot.word.compare_exchange_weak(word, word | kBusy, std::memory_order_acq_rel)) break;
      BusyDone();
    }
    Turns(index, slot, /*serve_first=*/true, waiter);
  }

  // The claimant's part: serve while data lasts, then go idle (or close, or
  // hand over when stopping).
  void Turns(std::uint32_t index, Slot& slot, bool serve, PollWaiter& waiter) {
    for (;;) {
      if (serve && slot.connection->Serve(waiter) == ThriftConnection::Outcome::kClosed) {
        Close(index, slot, /*hand_over=*/false);
        return;
      }
      serve = true;
      if (stopping_.load()) {  // back at a message boundary while stopping: it goes now
        Close(index, slot, /*hand_over=*/true);
        return;
      }
      if (idle_timeout_ms_ > 0)
        slot.last_active_ms.store(MonotonicMillis(), std::memory_order_relaxed);
      std::uint64_t word = slot.word.load(std::memory_order_acquire);
      bool again = false;
      for (;;) {
        if (word & kPending) {
          if (!slot.word.compare_exchange_weak(word, word & ~kPending, std::memory_order_acq_rel))
            continue;
          again = true;
          break;
        }
        std::uint64_t idle = (word & kGenMask) | ((word + kSeqOne) & kSeqMask);
        if (slot.word.compare_exchange_weak(word, idle, std::memory_order_acq_rel)) break;
      }
      if (again) continue;
      BusyDone();
      // A stop that came as it went idle may have missed it: take it back.
      if (stopping_.load()) {
        std::uint64_t idle = slot.word.load(std::memory_order_acquire);
        if (idle & kBusy) return;
        busy_.fetch_add(1);
        if (slot.word.compare_exchange_strong(idle, idle | kBusy)) {
          Close(index, slot, /*hand_over=*/true);
        } else {
          BusyDone();
        }
      }
      return;
    }
  }

  // The claimant unregisters the fd, then destroys the connection (closing
  // it), then frees the slot under a new generation.
  void Close(std::uint32_t index, Slot& slot, bool hand_over) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, slot.connection->fd(), nullptr);
    if (hand_over) {
      std::lock_guard<std::mutex> lock(control_);
      context_.HandOver(*slot.connection);  // When it went, what is destroyed is empty.
    }
    slot.connection.reset();
    std::uint64_t gen = (slot.word.load(std::memory_order_relaxed) >> 32) + 1;
    if (static_cast<std::uint32_t>(gen) == 0) gen = 1;
    slot.word.store((gen << 32) | kBusy, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(table_);
      free_.push_back(index);
    }
    int held = held_.fetch_sub(1) - 1;
    context_.ReportConnections(held);
    {
      std::lock_guard<std::mutex> lock(control_);
      UpdateAccepting();
    }
    BusyDone();
  }

  void BusyDone() {
    if (busy_.fetch_sub(1) == 1) MaybeFinish();
  }

  void MaybeFinish() {
    if (!stopping_.load() || busy_.load() != 0) return;
    if (done_.exchange(true)) return;
    std::uint64_t one = 1;
    ssize_t ignored = write(wake_fd_.get(), &one, sizeof one);  // never read: wakes all
    (void)ignored;
  }

  WorkerContext& context_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  UniqueFd recheck_fd_;
  std::unique_ptr<std::atomic<Slot*>[]> chunks_;
  std::atomic<std::uint32_t> slot_count_{0};
  std::mutex table_;                 // free_, growing the table
  std::vector<std::uint32_t> free_;  // under table_
  std::int64_t idle_timeout_ms_;
  // Accepting, adopting and handing over use the context's channel and
  // accept state, so one thread at a time.
  std::mutex control_;
  std::vector<bool> listener_armed_;  // under control_
  bool recheck_armed_ = false;        // under control_
  std::atomic<int> held_{0};
  std::atomic<int> busy_{0};  // connections claimed by a thread
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  std::atomic<std::int64_t> last_tick_ms_{0};
};

}  // namespace

bool ThreadWorker::InitProcess(WorkerContext& /*context*/, std::string* /*error*/) { return true; }

void ThreadWorker::Run(WorkerContext& context) {
  LeaderFollowerPool pool(context);
  pool.Run();
}

}  // namespace thriftd
