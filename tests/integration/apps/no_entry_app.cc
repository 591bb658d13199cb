// A valid shared object that exports no App (no THRIFTD_APP): loading it must
// fail with "no App exported (use THRIFTD_APP)".
extern "C" __attribute__((visibility("default"))) int no_entry_app_answer() { return 42; }
