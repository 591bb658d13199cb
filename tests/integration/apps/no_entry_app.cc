// A valid shared object that exports no App (no THRIFTD_APP): loading it must
// fail with "symbol thriftd_app_default missing".
extern "C" __attribute__((visibility("default"))) int no_entry_app_answer() { return 42; }
