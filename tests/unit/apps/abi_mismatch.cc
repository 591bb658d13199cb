// An entry point as a future thriftd would lay it out: ABI version 999.
#include "test_app.h"

class FutureApp : public thriftd_test::TestApp {};

extern "C" __attribute__((visibility("default"))) const thriftd::AppEntry thriftd_app_FutureApp = {
    999, "FutureApp", []() -> thriftd::App* { return new FutureApp(); }};
extern "C" __attribute__((visibility("default")))
const thriftd::AppEntry* const thriftd_app_default = &thriftd_app_FutureApp;
