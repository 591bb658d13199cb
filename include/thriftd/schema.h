// thriftd/schema.h: an App's IDL, embedded in its shared object, so that
// clients can discover the service: thriftd serves it at /schema on the
// metrics endpoint (--metrics-bind), and `thriftd call --schema-from` reads
// it there instead of a local --idl.
//
// The schema is the Thrift compiler's JSON (`thrift -r --gen json`) of the
// IDL and every file it includes, bundled with the enum types of fields
// restored. Nobody writes it by hand: `thriftd call --idl svc.thrift
// --emit-schema cc` writes a C++ source that holds it,
//
//   #include <thriftd/schema.h>
//   THRIFTD_SCHEMA(R"thriftd_schema({"thriftdSchema": 1, "programs": [...]})thriftd_schema")
//
// which the build compiles into the App (a meson custom_target or a CMake
// add_custom_command: README.md, "Schema discovery").
//
// The text lands in the object's ELF section ".thriftd_schema", which the
// master reads from the file without loading it (no App code runs in the
// master unless preload_app says so). One schema per shared object: a
// second THRIFTD_SCHEMA in the same object fails to link. No ABI: the
// section's contents are JSON text ending with a NUL.
#ifndef THRIFTD_SCHEMA_H_
#define THRIFTD_SCHEMA_H_

/// The ELF section the schema is stored in.
#define THRIFTD_SCHEMA_SECTION ".thriftd_schema"

#if defined(__has_attribute)
#if __has_attribute(retain)
// Kept by the linker even under --gc-sections (GCC 11+, binutils 2.36+).
#define THRIFTD_SCHEMA_RETAIN_ __attribute__((retain))
#endif
#endif
#ifndef THRIFTD_SCHEMA_RETAIN_
#define THRIFTD_SCHEMA_RETAIN_
#endif

/// Embeds `json_literal` (a string literal) as the App's schema. Use once,
/// at namespace scope, in one source file of the App.
#define THRIFTD_SCHEMA(json_literal)                                                         \
  extern "C" __attribute__((visibility("hidden"), used, section(THRIFTD_SCHEMA_SECTION))) \
  THRIFTD_SCHEMA_RETAIN_ const char thriftd_embedded_schema[] = json_literal;

#endif  // THRIFTD_SCHEMA_H_
