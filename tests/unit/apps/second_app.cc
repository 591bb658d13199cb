// The second of two Apps in libtwo_apps.so, found as libtwo_apps.so:SecondApp.
#include "test_app.h"

class SecondApp : public thriftd_test::TestApp {};

THRIFTD_APP(SecondApp)
