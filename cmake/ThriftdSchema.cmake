# thriftd_embed_schema(<target> <idl> [INCLUDE_DIRS <dir>...])
#
# Embeds the Thrift IDL <idl> (and every file it includes) in the App
# <target> as its schema (include/thriftd/schema.h), which thriftd serves at
# /schema for `thriftd call --schema-from`. At build time,
# `thriftd call --idl <idl> --emit-schema cc` writes <name>_schema.cc (the
# Thrift compiler `thrift` must be on PATH), which is added to <target>.
#
#   include(ThriftdSchema)   # with this directory on CMAKE_MODULE_PATH
#   add_library(keyvalue MODULE keyvalue_app.cc ${GENERATED_SOURCES})
#   thriftd_embed_schema(keyvalue keyvalue.thrift)
#
# THRIFTD_EXECUTABLE names the thriftd binary (default: found on PATH).
function(thriftd_embed_schema target idl)
  cmake_parse_arguments(ARG "" "" "INCLUDE_DIRS" ${ARGN})
  if(NOT THRIFTD_EXECUTABLE)
    find_program(THRIFTD_EXECUTABLE thriftd REQUIRED)
  endif()
  get_filename_component(idl_path "${idl}" ABSOLUTE)
  get_filename_component(idl_name "${idl}" NAME_WE)
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${idl_name}_schema.cc")
  set(include_flags "")
  foreach(dir IN LISTS ARG_INCLUDE_DIRS)
    get_filename_component(dir_path "${dir}" ABSOLUTE)
    list(APPEND include_flags -I "${dir_path}")
  endforeach()
  add_custom_command(
    OUTPUT "${output}"
    COMMAND "${THRIFTD_EXECUTABLE}" call --idl "${idl_path}" ${include_flags}
            --emit-schema cc -o "${output}"
    DEPENDS "${idl_path}"
    COMMENT "Embedding the schema of ${idl}"
    VERBATIM)
  target_sources(${target} PRIVATE "${output}")
endfunction()
