#include "workers/connection_engine.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "src/base/clock.h"
#include "src/base/log.h"

namespace thriftd {
namespace {

// A slot's state word: generation (high 32 bits, bumped when the slot is
// freed), a sequence bumped each time it goes idle (bits 3..31: a sweep
// that looked at an idle connection claims it only if it was not served
// since), hang-up (bit 2: an event reported the peer's close or a socket
// error, so turns read on to the end of file), pending (bit 1: an event
// came while busy, serve again) and busy (bit 0: claimed by one thread,
// which alone may serve, close or hand it over). A free slot is busy, so
// nothing claims it.
constexpr std::uint64_t kBusy = 1;
constexpr std::uint64_t kPending = 2;
constexpr std::uint64_t kHangUp = 4;
constexpr std::uint64_t kSeqOne = 8;
constexpr std::uint64_t kSeqMask = 0xfffffff8ULL;
constexpr std::uint64_t kGenMask = 0xffffffff00000000ULL;

// The word of a claimed slot let go idle: not busy, not pending, the next
// idle sequence; generation and hang-up stay.
constexpr std::uint64_t IdleWord(std::uint64_t word) {
  return (word & (kGenMask | kHangUp)) | ((word + kSeqOne) & kSeqMask);
}

constexpr int kTickMs = 100;          // heartbeat, accept re-check, sweep
constexpr long kRecheckNs = 5000000;  // while declining to accept

// epoll_data of what is not a connection: generation 0 (connections start at 1).
constexpr std::uint64_t kStopTag = 0;
constexpr std::uint64_t kChannelTag = 1;
constexpr std::uint64_t kWakeTag = 2;
constexpr std::uint64_t kRecheckTag = 3;
constexpr std::uint64_t kKickTag = 4;
constexpr std::uint64_t kWatchTag = 8;      // + watch index
constexpr std::uint64_t kListenerTag = 64;  // + listener index
constexpr std::size_t kMaxWatches = kListenerTag - kWatchTag;

// Registered once for the connection's life: every arrival, every freed
// byte of send room and the peer's close each bring one event. Bytes and
// the close that follows them may come as one event (kHangUp).
constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t kHangUpEvents = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

// The slot table grows by chunks that never move, so a slot's address is
// stable while other threads grow the table.
constexpr int kChunkBits = 10;
constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
constexpr std::uint32_t kMaxChunks = 1u << 16;
constexpr std::uint32_t kMaxSlots = kMaxChunks * kChunkSize;

const char* TimeoutReason(Connection::Phase phase) {
  switch (phase) {
    case Connection::Phase::kPartial:
      return "no progress within thrift_client_timeout";
    case Connection::Phase::kWriteBlocked:
      return "client not reading within thrift_client_timeout";
    default:
      return "idle past thrift_client_timeout";
  }
}

}  // namespace

struct ConnectionEngine::Slot {
  std::atomic<std::uint64_t> word{(std::uint64_t{1} << 32) | kBusy};
  // Written by the claimant before it lets go; read by sweeps.
  std::atomic<std::int64_t> last_progress_ms{0};
  std::atomic<int> phase{static_cast<int>(Connection::Phase::kIdle)};
  std::atomic<bool> can_hand_over{false};
  std::atomic<std::int64_t> handshake_deadline_ms{0};  // TLS: set once, when held
  std::unique_ptr<Connection> connection;              // set and reset by the claimant only
};

ConnectionEngine::ConnectionEngine(WorkerRuntime& runtime) : ConnectionEngine(runtime, Options()) {}

ConnectionEngine::ConnectionEngine(WorkerRuntime& runtime, const Options& options)
    : runtime_(runtime),
      chunks_(new std::atomic<Slot*>[kMaxChunks]),
      max_slots_(options.max_slots > 0 ? std::min(options.max_slots, kMaxSlots) : kMaxSlots),
      idle_timeout_ms_(runtime.client_timeout() > 0
                           ? std::max<std::int64_t>(
                                 1, static_cast<std::int64_t>(runtime.client_timeout() * 1000))
                           : 0),
      handshake_deadlines_(runtime.tls_handshake_deadlines()),
      threads_(options, done_) {
  for (std::uint32_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr);
}

ConnectionEngine::~ConnectionEngine() {
  for (std::uint32_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load();
}

ConnectionEngine::Slot& ConnectionEngine::At(std::uint32_t index) {
  return chunks_[index >> kChunkBits].load(std::memory_order_acquire)[index & (kChunkSize - 1)];
}

Connection* ConnectionEngine::ConnectionAt(std::uint32_t slot) { return At(slot).connection.get(); }

void ConnectionEngine::Abandon(std::uint32_t index, const std::string& why) {
  Slot& slot = At(index);
  slot.connection->Close(why, /*warn=*/true);
  Drop(index, slot, /*hand_over=*/false);
}

Status ConnectionEngine::Register(int fd, std::uint32_t events, std::uint64_t tag, int op) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  if (epoll_ctl(epoll_fd_.get(), op, fd, &event) < 0)
    return Status::FromErrno(op == EPOLL_CTL_ADD ? "epoll_ctl(ADD)" : "epoll_ctl(MOD)", errno);
  return Status::Ok();
}

// --- setting up -----------------------------------------------------------------

Status ConnectionEngine::Open(Dispatcher& dispatcher) {
  dispatcher_ = &dispatcher;
  epoll_fd_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) return Status::FromErrno("epoll_create1", errno);
  wake_fd_.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_.valid()) return Status::FromErrno("eventfd", errno);
  recheck_fd_.Reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!recheck_fd_.valid()) return Status::FromErrno("timerfd_create", errno);
  // One-shot, so one thread handles each; the wake-up is level-triggered
  // and never drained, so once written it wakes every loop thread.
  Status status = Register(runtime_.stop_fd(), EPOLLIN | EPOLLONESHOT, kStopTag, EPOLL_CTL_ADD);
  if (status.ok())
    status = Register(runtime_.channel_fd(), EPOLLIN | EPOLLONESHOT, kChannelTag, EPOLL_CTL_ADD);
  if (status.ok()) status = Register(wake_fd_.get(), EPOLLIN, kWakeTag, EPOLL_CTL_ADD);
  if (status.ok()) status = Register(recheck_fd_.get(), EPOLLONESHOT, kRecheckTag, EPOLL_CTL_ADD);
  if (status.ok()) status = threads_.Open(epoll_fd_.get(), kKickTag);
  const std::vector<int>& listeners = runtime_.listen_fds();
  for (std::size_t i = 0; i < listeners.size() && status.ok(); ++i)
    status = Register(listeners[i], EPOLLONESHOT, kListenerTag + i, EPOLL_CTL_ADD);
  if (!status.ok()) return status;
  listener_armed_.assign(listeners.size(), false);
  runtime_.Heartbeat();
  last_tick_ms_.store(CoarseMonotonicMillis());
  std::lock_guard<std::mutex> lock(control_);
  UpdateAccepting();
  return Status::Ok();
}

Status ConnectionEngine::Watch(int fd, std::function<void()> on_ready) {
  if (watches_.size() >= kMaxWatches) return Status::Error("too many watched descriptors");
  watches_.push_back(std::move(on_ready));
  return Register(fd, EPOLLIN, kWatchTag + watches_.size() - 1, EPOLL_CTL_ADD);
}

// --- the loop -------------------------------------------------------------------

void ConnectionEngine::Run(int max_events) {
  std::vector<epoll_event> events(static_cast<std::size_t>(max_events));
  threads_.Enter();
  while (!done()) {
    // Events another thread took but could not serve itself come first.
    epoll_event shared{};
    if (threads_.TakeShared(&shared)) {
      Handle(shared.data.u64, shared.events);
      continue;
    }
    if (!threads_.TakePollerRole()) {
      threads_.Park();
      continue;
    }
    int n = threads_.Wait(epoll_fd_.get(), events.data(), max_events, kTickMs);
    if (n < 0) {
      THRIFTD_LOG(kCritical) << "epoll_wait: " << std::strerror(errno) << "; the worker stops";
      done_.store(true, std::memory_order_release);
      Wake();
      break;
    }
    if (done()) break;
    // This thread is free: the worker is responsive. Whichever free thread
    // wakes first after kTickMs does the periodic work; a pool whose every
    // thread is stuck in a handler stops the heartbeat, and the master
    // finds it hung.
    std::int64_t now = CoarseMonotonicMillis();
    std::int64_t last = last_tick_ms_.load(std::memory_order_relaxed);
    if (now - last >= kTickMs && last_tick_ms_.compare_exchange_strong(last, now)) Tick(now);
    // Alone, a thread serves everything it took. With others, it keeps the
    // first event and shares the rest at once: a thread that then spends a
    // while in a handler holds no other connection's event. (The others
    // counted as they will be, not as they have started: the first thread
    // may take a burst before they have.)
    int keep = threads_.shares() ? std::min(n, 1) : n;
    if (keep < n) threads_.Share(events.data() + keep, n - keep);
    for (int i = 0; i < keep && !done(); ++i) Handle(events[i].data.u64, events[i].events);
    threads_.LeaveSurplusPollerRole();
  }
  threads_.Leave();
}

void ConnectionEngine::Handle(std::uint64_t tag, std::uint32_t events) {
  if ((tag >> 32) != 0) {
    OnConnectionEvent(static_cast<std::uint32_t>(tag), tag & kGenMask, events);
  } else if (tag >= kListenerTag) {
    OnListener(static_cast<std::size_t>(tag - kListenerTag));
  } else if (tag >= kWatchTag) {
    watches_[tag - kWatchTag]();
  } else if (tag == kStopTag) {
    OnStop();
  } else if (tag == kChannelTag) {
    AdoptFromChannel();
  } else if (tag == kRecheckTag) {
    std::lock_guard<std::mutex> lock(control_);
    std::uint64_t expirations = 0;
    if (read(recheck_fd_.get(), &expirations, sizeof expirations) < 0 && errno != EAGAIN)
      THRIFTD_LOG(kWarning) << "read(timerfd): " << std::strerror(errno);
    recheck_armed_ = false;
    UpdateAccepting();
  }
  // kWakeTag: done() ends the loop; kKickTag: the loop looks at the shared events.
}

void ConnectionEngine::Tick(std::int64_t now_ms) {
  if (runtime_.quick_stop_requested() && !done_.exchange(true)) {
    Wake();  // a quick stop after a graceful one: the stop pipe spoke only once
    return;
  }
  runtime_.Heartbeat();
  runtime_.ReportConnections(held_.load());
  // The channel is one-shot: should re-arming it have failed, connections
  // the master relays would wait here for ever.
  AdoptFromChannel();
  {
    std::lock_guard<std::mutex> lock(control_);
    UpdateAccepting();
  }
  if (idle_timeout_ms_ > 0 || handshake_deadlines_ || stopping_.load()) Sweep(now_ms);
}

// --- connections ----------------------------------------------------------------

void ConnectionEngine::OnConnectionEvent(std::uint32_t index, std::uint64_t generation,
                                         std::uint32_t events) {
  Slot& slot = At(index);
  // Set with the claim (or the pending mark) in one step: the turn that
  // follows sees it, and a stale event cannot set it on a new connection.
  const std::uint64_t hang_up = (events & kHangUpEvents) != 0 ? kHangUp : 0;
  std::uint64_t word = slot.word.load(std::memory_order_acquire);
  for (;;) {
    if ((word & kGenMask) != generation) return;  // closed since: a stale event
    if (word & kBusy) {
      // Being served, and the server may already have looked and found
      // nothing: have it serve again.
      if ((word & (kPending | hang_up)) == (kPending | hang_up) ||
          slot.word.compare_exchange_weak(word, word | kPending | hang_up,
                                          std::memory_order_acq_rel))
        return;
      continue;
    }
    if (slot.word.compare_exchange_weak(word, word | kBusy | hang_up, std::memory_order_acq_rel))
      break;
  }
  dispatcher_->Dispatch(index);
}

void ConnectionEngine::Serve(std::uint32_t index) {
  LoopThreads::Turn turn(threads_);  // a handler may block: other threads take over
  Slot& slot = At(index);
  for (;;) {
    // Read again on each pass: the event that set pending may have set it.
    if (slot.word.load(std::memory_order_relaxed) & kHangUp) slot.connection->OnPeerHangUp();
    bool progressed = false;
    Connection::Phase phase = slot.connection->RunTurn(&progressed);
    if (phase == Connection::Phase::kClosed) {
      Drop(index, slot, /*hand_over=*/false);
      return;
    }
    if (progressed && idle_timeout_ms_ > 0)
      slot.last_progress_ms.store(CoarseMonotonicMillis(), std::memory_order_relaxed);
    slot.phase.store(static_cast<int>(phase), std::memory_order_relaxed);
    slot.can_hand_over.store(slot.connection->CanHandOver(), std::memory_order_relaxed);
    if (stopping_.load(std::memory_order_acquire) && FinishOnStop(index, slot, phase)) return;
    if (Release(index, slot)) return;
  }
}

bool ConnectionEngine::Release(std::uint32_t index, Slot& slot) {
  auto let_go = [&slot] {
    std::uint64_t word = slot.word.load(std::memory_order_acquire);
    for (;;) {
      if (word & kPending) {
        if (slot.word.compare_exchange_weak(word, word & ~kPending, std::memory_order_acq_rel))
          return false;
        continue;
      }
      if (slot.word.compare_exchange_weak(word, IdleWord(word), std::memory_order_acq_rel))
        return true;
    }
  };
  if (!let_go()) return false;
  if (!stopping_.load(std::memory_order_acquire)) return true;
  // A stop that came as it went idle found it busy and passed it by: see
  // to it now, unless another thread has it.
  std::uint64_t word = slot.word.load(std::memory_order_acquire);
  if ((word & kBusy) || !slot.word.compare_exchange_strong(word, word | kBusy)) return true;
  auto phase = static_cast<Connection::Phase>(slot.phase.load(std::memory_order_relaxed));
  if (FinishOnStop(index, slot, phase)) return true;
  return let_go();  // a message or a reply under way: it finishes first
}

bool ConnectionEngine::FinishOnStop(std::uint32_t index, Slot& slot, Connection::Phase phase) {
  bool past_deadline = CoarseMonotonicMillis() >= stop_deadline_ms_.load();
  if (hand_over_.load() && slot.connection->CanHandOver()) {
    Drop(index, slot, /*hand_over=*/true);
    return true;
  }
  bool quick = runtime_.quick_stop_requested();
  if (Connection::BetweenMessages(phase) || past_deadline || quick) {
    if (!Connection::BetweenMessages(phase)) {
      slot.connection->Close(
          quick ? "the worker stops at once" : "unfinished at the end of graceful_timeout", true);
    }
    Drop(index, slot, /*hand_over=*/false);
    return true;
  }
  return false;
}

void ConnectionEngine::Hold(std::unique_ptr<Connection> connection, bool serve_now) {
  std::uint32_t index = kMaxSlots;
  {
    std::lock_guard<std::mutex> lock(table_);
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else if (slot_count_.load(std::memory_order_relaxed) < max_slots_) {
      index = slot_count_.load(std::memory_order_relaxed);
      std::uint32_t chunk = index >> kChunkBits;
      if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr)
        chunks_[chunk].store(new Slot[kChunkSize], std::memory_order_release);
      slot_count_.store(index + 1, std::memory_order_release);
    }
  }
  if (index == kMaxSlots) {
    // The table is full (~67M connections in thriftd itself): this one
    // goes, and is accounted for as any other that closes.
    connection->Close(
        "no slot for it: the worker holds " + std::to_string(max_slots_) + " connections",
        /*warn=*/true);
    dispatcher_->Destroy(std::move(connection));
    Forget();
    return;
  }
  Slot& slot = At(index);  // busy (free slots are): ours
  slot.connection = std::move(connection);
  slot.last_progress_ms.store(CoarseMonotonicMillis(), std::memory_order_relaxed);
  // What a sweep reads until its first turn says (the slot's last
  // connection left its own): carried bytes are the start of a message.
  slot.phase.store(
      static_cast<int>(slot.connection->in_handshake()      ? Connection::Phase::kHandshake
                       : slot.connection->buffered_in() > 0 ? Connection::Phase::kPartial
                                                            : Connection::Phase::kIdle),
      std::memory_order_relaxed);
  slot.handshake_deadline_ms.store(slot.connection->handshake_deadline_ms(),
                                   std::memory_order_relaxed);
  slot.can_hand_over.store(slot.connection->CanHandOver(), std::memory_order_relaxed);
  std::uint64_t generation = slot.word.load(std::memory_order_relaxed) & kGenMask;
  Status status =
      Register(slot.connection->fd(), kConnectionEvents, generation | index, EPOLL_CTL_ADD);
  if (!status.ok()) {
    slot.connection->Close("cannot watch it: " + status.message(), true);
    Drop(index, slot, /*hand_over=*/false);
    return;
  }
  runtime_.ReportConnections(held_.load());
  // Its first turn: bytes may be there already (or carried from the
  // worker that handed it over).
  if (serve_now) {
    dispatcher_->Dispatch(index);
    return;
  }
  // Or it comes with the event the registration queued (a new socket is
  // writable), on whichever thread takes it: let the slot go idle. If that
  // event came already, it found the slot busy and marked it pending: it is
  // passed on as a shared event, not served here while other threads idle.
  std::uint64_t word = slot.word.load(std::memory_order_acquire);
  while (!slot.word.compare_exchange_weak(word, IdleWord(word), std::memory_order_acq_rel)) {
  }
  if (word & kPending) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = generation | index;
    threads_.Share(&event, 1);
  }
}

void ConnectionEngine::Drop(std::uint32_t index, Slot& slot, bool hand_over) {
  // Unregistered before its descriptor closes, so a new connection that
  // gets the same number is never confused with it.
  int fd = slot.connection->fd();
  if (fd >= 0 && epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != ENOENT)
    THRIFTD_LOG(kWarning) << "epoll_ctl(DEL): " << std::strerror(errno);
  if (hand_over) {
    std::lock_guard<std::mutex> lock(control_);
    runtime_.HandOverConnection(*slot.connection);  // when it went, what is destroyed is empty
  }
  dispatcher_->Destroy(std::move(slot.connection));
  std::uint64_t generation = (slot.word.load(std::memory_order_relaxed) >> 32) + 1;
  if (static_cast<std::uint32_t>(generation) == 0) generation = 1;
  slot.word.store((generation << 32) | kBusy, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(table_);
    free_.push_back(index);
  }
  Forget();
}

void ConnectionEngine::Forget() {
  runtime_.ReportConnections(held_.fetch_sub(1) - 1);
  {
    std::lock_guard<std::mutex> lock(control_);
    UpdateAccepting();  // room for one more
  }
  MaybeFinish();
}

void ConnectionEngine::Sweep(std::int64_t now_ms) {
  bool stopping = stopping_.load(std::memory_order_acquire);
  bool past_deadline = stopping && now_ms >= stop_deadline_ms_.load();
  for (std::uint32_t i = 0, n = slot_count_.load(std::memory_order_acquire); i < n; ++i) {
    Slot& slot = At(i);
    std::uint64_t word = slot.word.load(std::memory_order_acquire);
    if (word & kBusy) continue;
    auto phase = static_cast<Connection::Phase>(slot.phase.load(std::memory_order_relaxed));
    const char* why = nullptr;
    bool hand_over = false;
    if (stopping) {
      hand_over = hand_over_.load() && slot.can_hand_over.load(std::memory_order_relaxed);
      if (!hand_over && !Connection::BetweenMessages(phase)) {
        if (!past_deadline) continue;  // a message or a reply under way
        why = "unfinished at the end of graceful_timeout";
      }
    } else if (phase == Connection::Phase::kHandshake) {
      // From the accept, not from the last byte: a client dripping its
      // handshake a byte at a time (a slowloris) is closed all the same.
      std::int64_t deadline = slot.handshake_deadline_ms.load(std::memory_order_relaxed);
      if (deadline == 0 || now_ms < deadline) continue;
      why = "TLS handshake not finished within tls_handshake_timeout";
    } else {
      if (idle_timeout_ms_ == 0 ||
          now_ms - slot.last_progress_ms.load(std::memory_order_relaxed) <= idle_timeout_ms_)
        continue;
      why = TimeoutReason(phase);
    }
    // The sequence makes this fail if the connection was served meanwhile.
    if (!slot.word.compare_exchange_strong(word, word | kBusy)) continue;
    if (why != nullptr) slot.connection->Close(why, stopping);
    Drop(i, slot, hand_over);
  }
}

// --- accepting, adopting, stopping ------------------------------------------------

void ConnectionEngine::UpdateAccepting() {
  if (stopping_.load()) return;
  if (runtime_.ShouldAccept(held_.load())) {
    for (std::size_t i = 0; i < listener_armed_.size(); ++i) {
      if (listener_armed_[i]) continue;
      Status status = Register(runtime_.listen_fds()[i], EPOLLIN | EPOLLONESHOT, kListenerTag + i,
                               EPOLL_CTL_MOD);
      if (!status.ok()) {
        THRIFTD_LOG(kError) << "cannot watch a listener: " << status.message();
        continue;
      }
      listener_armed_[i] = true;
    }
  } else if (!recheck_armed_) {
    // Declining (others hold fewer, or no descriptors left): look again
    // soon, so a burst is not left in the backlog.
    itimerspec spec{};
    spec.it_value.tv_nsec = kRecheckNs;
    Status status;
    if (timerfd_settime(recheck_fd_.get(), 0, &spec, nullptr) < 0)
      status = Status::FromErrno("timerfd_settime", errno);
    if (status.ok())
      status = Register(recheck_fd_.get(), EPOLLIN | EPOLLONESHOT, kRecheckTag, EPOLL_CTL_MOD);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "cannot arm the accept re-check: " << status.message();
      return;  // the next tick asks again
    }
    recheck_armed_ = true;
  }
}

void ConnectionEngine::OnListener(std::size_t index) {
  std::unique_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> lock(control_);
    listener_armed_[index] = false;
    // One connection per wakeup, then ask again: the balance may have changed.
    if (!stopping_.load() && runtime_.ShouldAccept(held_.load())) {
      int fd = runtime_.AcceptFrom(index);
      if (fd >= 0) connection = runtime_.NewConnection(UniqueFd(fd), index);
      if (connection) held_.fetch_add(1);
    }
    UpdateAccepting();
  }
  if (connection) Hold(std::move(connection), /*serve_now=*/true);
}

void ConnectionEngine::AdoptFromChannel() {
  std::vector<std::unique_ptr<Connection>> adopted;
  {
    std::lock_guard<std::mutex> lock(control_);
    if (master_gone_) return;
    bool master_here = runtime_.PollChannel();
    while (std::unique_ptr<Connection> connection = runtime_.TakeAdopted()) {
      held_.fetch_add(1);
      adopted.push_back(std::move(connection));
    }
    // Without a master (end of file keeps the channel readable) a stop is
    // requested, and the channel no longer watched.
    master_gone_ = !master_here;
    if (master_here) {
      Status status =
          Register(runtime_.channel_fd(), EPOLLIN | EPOLLONESHOT, kChannelTag, EPOLL_CTL_MOD);
      if (!status.ok()) THRIFTD_LOG(kError) << "cannot watch the channel: " << status.message();
    }
    UpdateAccepting();
  }
  // Their first turns are not run here one after another, while other
  // threads idle: each comes with its own event, to whichever thread takes
  // it (the master relays a retiring worker's connections in a burst).
  for (auto& connection : adopted) Hold(std::move(connection), /*serve_now=*/false);
}

void ConnectionEngine::OnStop() {
  std::vector<std::unique_ptr<Connection>> relayed;
  {
    std::lock_guard<std::mutex> lock(control_);
    runtime_.PollChannel();  // a hand-over request comes just before the stop
    hand_over_.store(runtime_.hand_over_requested());
    stop_deadline_ms_.store(CoarseMonotonicMillis() +
                            static_cast<std::int64_t>(runtime_.graceful_timeout() * 1000));
    stopping_.store(true, std::memory_order_release);
    // Connections the master relayed just before: read with the request,
    // they are held like any other, and so go on (or close) below.
    while (std::unique_ptr<Connection> connection = runtime_.TakeAdopted()) {
      held_.fetch_add(1);
      relayed.push_back(std::move(connection));
    }
  }
  if (runtime_.quick_stop_requested()) {
    done_.store(true, std::memory_order_release);
    Wake();
    return;
  }
  for (auto& connection : relayed) Hold(std::move(connection), /*serve_now=*/true);
  // Connections between calls go at once; the others when their call ends.
  Sweep(CoarseMonotonicMillis());
  MaybeFinish();
}

void ConnectionEngine::MaybeFinish() {
  if (!stopping_.load(std::memory_order_acquire) || held_.load() != 0) return;
  if (done_.exchange(true)) return;
  Wake();
}

void ConnectionEngine::Wake() {
  std::uint64_t one = 1;
  // Only an overflowing counter fails, and it never reaches that.
  if (write(wake_fd_.get(), &one, sizeof one) < 0)
    THRIFTD_LOG(kError) << "write(eventfd): " << std::strerror(errno);
  threads_.WakeAll();
}

}  // namespace thriftd
