// The schema an App embeds, as the master reads it for /schema.
#include "src/app_schema.h"

#include <doctest/doctest.h>
#include <elf.h>

#include <cstring>
#include <fstream>
#include <string>

#include "call/schema.h"
#include "test_util.h"

namespace thriftd {
namespace {

using thriftd_test::TempDir;

// An ELF file of headers only whose .thriftd_schema section says it holds
// `size` bytes: the size is refused before any byte is read, so the file
// need not hold them.
std::string ElfClaimingSchemaOf(const TempDir& dir, const std::string& name, uint64_t size) {
  const char names[] = "\0.shstrtab\0.thriftd_schema";
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_DYN;
  header.e_version = EV_CURRENT;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_shoff = sizeof(Elf64_Ehdr);
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = 3;
  header.e_shstrndx = 1;
  Elf64_Shdr sections[3]{};  // [0]: the null section
  sections[1].sh_name = 1;
  sections[1].sh_type = SHT_STRTAB;
  sections[1].sh_offset = sizeof(Elf64_Ehdr) + sizeof sections;
  sections[1].sh_size = sizeof names;
  sections[2].sh_name = 11;  // ".thriftd_schema"
  sections[2].sh_type = SHT_PROGBITS;
  sections[2].sh_offset = sections[1].sh_offset;
  sections[2].sh_size = size;
  std::string path = dir.Join(name);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  out.write(reinterpret_cast<const char*>(sections), sizeof sections);
  out.write(names, sizeof names);
  REQUIRE(out.good());
  return path;
}

TEST_CASE("the master reads no App schema larger than `thriftd call` reads") {
  TempDir dir;
  std::string app = ElfClaimingSchemaOf(dir, "libover.so", call::kMaxSchemaBytes + 1);
  std::optional<std::string> schema;
  CHECK(ReadAppSchema(app + ":Name", &schema).message() ==
        app + ": section .thriftd_schema is larger than " + std::to_string(call::kMaxSchemaBytes) +
            " bytes");
  // At the limit the size passes, and the bytes the file lacks are the
  // next error.
  std::string within = ElfClaimingSchemaOf(dir, "libat.so", call::kMaxSchemaBytes);
  CHECK(ReadAppSchema(within, &schema).message() ==
        within + ": section .thriftd_schema lies outside the file");
}

}  // namespace
}  // namespace thriftd
