// A shared object whose App entry claims ABI version 999, as one built
// against a future thriftd would: loading it must fail naming both versions.
#include <thriftd/app.h>

namespace {

thriftd::App* CreateNothing() { return nullptr; }

}  // namespace

extern "C" __attribute__((visibility("default")))
const thriftd::AppEntry thriftd_app_FutureApp = {999, "FutureApp", &CreateNothing};

extern "C" __attribute__((visibility("default")))
const thriftd::AppEntry* const thriftd_app_default = &thriftd_app_FutureApp;
