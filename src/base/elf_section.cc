#include "src/base/elf_section.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/base/unique_fd.h"

namespace thriftd {
namespace {

// Reads exactly `size` bytes at `offset`; a short file is "truncated".
Status ReadAt(int fd, const std::string& path, uint64_t offset, size_t size, void* out) {
  auto* bytes = static_cast<char*>(out);
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, bytes + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("pread(" + path + ")", errno);
    if (n == 0) return Status::Error(path + ": truncated ELF file");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

template <typename Ehdr, typename Shdr>
Status FindSection(int fd, const std::string& path, uint64_t file_size, const std::string& name,
                   size_t max_size, std::optional<std::string>* contents) {
  Ehdr header;
  Status status = ReadAt(fd, path, 0, sizeof header, &header);
  if (!status.ok()) return status;
  if (header.e_shentsize != sizeof(Shdr) || header.e_shoff == 0 || header.e_shoff > file_size ||
      static_cast<uint64_t>(header.e_shnum) * sizeof(Shdr) > file_size - header.e_shoff ||
      header.e_shstrndx >= header.e_shnum) {
    // (e_shnum 0 with SHN_XINDEX, for over 65279 sections, is not a shared
    // object an App would be.)
    return Status::Error(path + ": the ELF section headers are not as expected");
  }
  auto section = [&](size_t index, Shdr* out) {
    return ReadAt(fd, path, header.e_shoff + index * sizeof(Shdr), sizeof(Shdr), out);
  };
  Shdr names;
  status = section(header.e_shstrndx, &names);
  if (!status.ok()) return status;
  if (names.sh_offset > file_size || names.sh_size > file_size - names.sh_offset)
    return Status::Error(path + ": the ELF section names lie outside the file");
  std::string table(names.sh_size, '\0');
  status = ReadAt(fd, path, names.sh_offset, table.size(), table.data());
  if (!status.ok()) return status;
  for (size_t i = 0; i < header.e_shnum; ++i) {
    Shdr candidate;
    status = section(i, &candidate);
    if (!status.ok()) return status;
    // c_str() ends the table with a NUL, should its last name lack one.
    if (candidate.sh_name >= table.size() || name != table.c_str() + candidate.sh_name) continue;
    if (candidate.sh_type == SHT_NOBITS)
      return Status::Error(path + ": section " + name + " has no contents in the file");
    if (candidate.sh_size > max_size)
      return Status::Error(path + ": section " + name + " is larger than " +
                           std::to_string(max_size) + " bytes");
    if (candidate.sh_offset > file_size || candidate.sh_size > file_size - candidate.sh_offset)
      return Status::Error(path + ": section " + name + " lies outside the file");
    std::string bytes(candidate.sh_size, '\0');
    status = ReadAt(fd, path, candidate.sh_offset, bytes.size(), bytes.data());
    if (!status.ok()) return status;
    *contents = std::move(bytes);
    return Status::Ok();
  }
  contents->reset();
  return Status::Ok();
}

}  // namespace

Status ReadElfSection(const std::string& path, const std::string& name, size_t max_size,
                      std::optional<std::string>* contents) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open(" + path + ")", errno);
  struct stat info;
  if (fstat(fd.get(), &info) != 0) return Status::FromErrno("fstat(" + path + ")", errno);
  unsigned char ident[EI_NIDENT];
  if (static_cast<uint64_t>(info.st_size) < sizeof ident ||
      !ReadAt(fd.get(), path, 0, sizeof ident, ident).ok() ||
      std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return Status::Error(path + ": not an ELF file");
  }
  const unsigned char native =
      __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
  if (ident[EI_DATA] != native)
    return Status::Error(path + ": an ELF file of the other byte order");
  auto size = static_cast<uint64_t>(info.st_size);
  if (ident[EI_CLASS] == ELFCLASS64)
    return FindSection<Elf64_Ehdr, Elf64_Shdr>(fd.get(), path, size, name, max_size, contents);
  if (ident[EI_CLASS] == ELFCLASS32)
    return FindSection<Elf32_Ehdr, Elf32_Shdr>(fd.get(), path, size, name, max_size, contents);
  return Status::Error(path + ": an ELF file of unknown class");
}

}  // namespace thriftd
