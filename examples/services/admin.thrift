// A second service beside KeyValue, for an App exporting several
// (examples/services/services_app.cc): it looks at the same store.
namespace cpp admin
namespace py admin

exception Refused { 1: string why }

service Admin {
  // The number of keys the worker process's store holds.
  i64 keyCount(),
  // Empties the store; refused while it holds a key named "locked".
  void clear() throws (1: Refused refused)
}
