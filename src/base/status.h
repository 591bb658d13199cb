// Status: the error value used inside thriftd (STYLE.md: errors as values
// inside, exceptions at the edges). A Status is either ok or carries a
// one-line message meant for the operator.
#ifndef THRIFTD_SRC_BASE_STATUS_H_
#define THRIFTD_SRC_BASE_STATUS_H_

#include <string>
#include <utility>

namespace thriftd {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  /// "SYSCALL(WHAT): strerror(err)", the one place errno becomes text.
  static Status FromErrno(const std::string& syscall_and_what, int err);

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

  /// Prefixes the message ("context: message"); no-op on ok.
  Status& Prepend(const std::string& context) {
    if (failed_) message_ = context + ": " + message_;
    return *this;
  }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_STATUS_H_
