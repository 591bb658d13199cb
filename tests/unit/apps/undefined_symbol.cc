// An App calling a function no object defines: linked without
// --no-undefined, as a service author's object missing a library would be.
#include "test_app.h"

extern "C" void thriftd_test_defined_nowhere();

class UnresolvedApp : public thriftd_test::TestApp {
 public:
  UnresolvedApp() { thriftd_test_defined_nowhere(); }
};

THRIFTD_APP(UnresolvedApp)
