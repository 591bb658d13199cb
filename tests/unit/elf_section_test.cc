// Reading a named section of an ELF file without loading it.
#include "src/base/elf_section.h"

#include <doctest/doctest.h>

#include <fstream>
#include <optional>
#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

// A section in this test binary itself, found by reading /proc/self/exe.
__attribute__((used, section(".thriftd_test_section"))) const char kSection[] = "in the file";

TEST_CASE("elf section: a section of a linked file is read as its bytes") {
  std::optional<std::string> contents;
  Status status = ReadElfSection("/proc/self/exe", ".thriftd_test_section", 4096, &contents);
  REQUIRE(status.ok());
  REQUIRE(contents.has_value());
  CHECK(*contents == std::string(kSection, sizeof kSection));  // with its NUL
}

TEST_CASE("elf section: a missing section is nullopt, not an error") {
  std::optional<std::string> contents = std::string("stale");
  REQUIRE(ReadElfSection("/proc/self/exe", ".thriftd_no_such_section", 4096, &contents).ok());
  CHECK_FALSE(contents.has_value());
  // A name that is a prefix of a section's does not match it.
  REQUIRE(ReadElfSection("/proc/self/exe", ".thriftd_test", 4096, &contents).ok());
  CHECK_FALSE(contents.has_value());
}

TEST_CASE("elf section: a section larger than the limit is an error naming it") {
  std::optional<std::string> contents;
  Status status = ReadElfSection("/proc/self/exe", ".thriftd_test_section", 4, &contents);
  CHECK(status.message() == "/proc/self/exe: section .thriftd_test_section is larger than 4 bytes");
}

TEST_CASE("elf section: a file that is not ELF, or is cut short, is an error naming it") {
  thriftd_test::TempDir dir;
  std::string text = dir.Write("text", "not an ELF file at all\n");
  std::optional<std::string> contents;
  CHECK(ReadElfSection(text, ".x", 4096, &contents).message() == text + ": not an ELF file");
  // The first 100 bytes of a real one: its section headers are past the end.
  std::string cut = dir.Join("cut");
  {
    std::ifstream in("/proc/self/exe", std::ios::binary);
    char head[100];
    in.read(head, sizeof head);
    std::ofstream(cut, std::ios::binary).write(head, sizeof head);
  }
  CHECK(ReadElfSection(cut, ".x", 4096, &contents).message() ==
        cut + ": the ELF section headers are not as expected");
  CHECK(ReadElfSection(dir.Join("missing"), ".x", 4096, &contents)
            .message()
            .find("open(" + dir.Join("missing") + "): No such file") == 0);
}

}  // namespace
}  // namespace thriftd
