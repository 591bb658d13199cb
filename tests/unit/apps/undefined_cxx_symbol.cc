// An App calling a C++ function no object defines (a generated client's
// source left out of the link): dlopen() names the mangled symbol, which
// thriftd's error demangles.
#include "test_app.h"

namespace billing {
int Charge(int cents);
}

class UnresolvedCxxApp : public thriftd_test::TestApp {
 public:
  UnresolvedCxxApp() { billing::Charge(1); }
};

THRIFTD_APP(UnresolvedCxxApp)
