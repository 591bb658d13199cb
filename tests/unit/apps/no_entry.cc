// A shared object holding an App class but no THRIFTD_APP entry point.
#include "test_app.h"

class ForgottenApp : public thriftd_test::TestApp {};

extern "C" __attribute__((visibility("default"))) thriftd::App* make_forgotten_app() {
  return new ForgottenApp();
}
