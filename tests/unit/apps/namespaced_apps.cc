// Two Apps exported from one source file, one of them namespaced: both were
// compile errors before ABI version 2 (the macro pasted the class into a
// symbol name, and defined the default entry twice). Found as
// libnamespaced_apps.so:svc::KvApp and libnamespaced_apps.so:PlainApp.
#include "test_app.h"

namespace svc {

class KvApp : public thriftd_test::TestApp {};

}  // namespace svc

class PlainApp : public thriftd_test::TestApp {};

THRIFTD_APP(svc::KvApp)
THRIFTD_APP(PlainApp)
