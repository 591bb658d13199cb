// An App whose constructor fails, as one that cannot reach its database would.
#include <stdexcept>

#include "test_app.h"

class ThrowingApp : public thriftd_test::TestApp {
 public:
  ThrowingApp() { throw std::runtime_error("database unreachable: connection refused"); }
};

THRIFTD_APP(ThrowingApp)
