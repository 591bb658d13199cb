// The first of two Apps in libtwo_apps.so (see second_app.cc).
#include "test_app.h"

class FirstApp : public thriftd_test::TestApp {};

THRIFTD_APP(FirstApp)
