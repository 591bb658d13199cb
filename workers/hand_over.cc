#include "workers/hand_over.h"

#include "src/base/channel.h"
#include "src/base/log.h"

namespace thriftd {

bool HandOverChannel::ReadChannel() {
  for (;;) {
    ChannelMessage message;
    switch (ReceiveChannelMessage(channel_fd_, &message)) {
      case ChannelRead::kEmpty:
        return true;
      case ChannelRead::kClosed:
        return false;
      case ChannelRead::kMessage:
        break;
    }
    if (message.kind == kChannelHandOver) {
      requested_ = true;
    } else if (message.kind == kChannelConnection && message.passed.valid()) {
      std::size_t end = message.text.find('\0');
      if (end == std::string::npos) {
        // Not from a thriftd that names listeners: where it belongs is unknown.
        THRIFTD_LOG(kWarning) << "a handed-over connection names no listener; closing it";
        continue;
      }
      incoming_.push_back(
          {std::move(message.passed), message.text.substr(0, end), message.text.substr(end + 1)});
    } else {
      THRIFTD_LOG(kWarning) << "unexpected message from the master (kind '" << message.kind
                            << "'); ignored";
    }
  }
}

bool HandOverChannel::TakeIncoming(Incoming* incoming) {
  if (incoming_.empty()) return false;
  *incoming = std::move(incoming_.front());
  incoming_.pop_front();
  return true;
}

Status HandOverChannel::Give(UniqueFd fd, std::string_view listener, std::string_view carried) {
  std::string text(listener);
  text += '\0';
  text += carried;
  return SendChannelMessage(channel_fd_, kChannelConnection, text, fd.get())
      .Prepend("cannot hand a connection over");
}

}  // namespace thriftd
