// A well-formed App: loads, constructs, hands out a processor factory.
#include "test_app.h"

class GoodApp : public thriftd_test::TestApp {};

THRIFTD_APP(GoodApp)
