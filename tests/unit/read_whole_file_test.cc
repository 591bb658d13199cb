// Reading a whole file: its bytes, or an error naming the file.
#include "src/base/read_whole_file.h"

#include <doctest/doctest.h>

#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

using thriftd_test::TempDir;

TEST_CASE("ReadWholeFile reads every byte, NULs and all, past one read's buffer") {
  TempDir dir;
  std::string contents(200000, 'x');
  contents[7] = '\0';
  std::string path = dir.Write("f", contents);
  std::string text = "left over";
  REQUIRE(ReadWholeFile(path, &text).ok());
  CHECK(text == contents);
  REQUIRE(ReadWholeFile(dir.Write("empty", ""), &text).ok());
  CHECK(text.empty());
}

TEST_CASE("ReadWholeFile: a file it cannot read is an error naming it, the text left alone") {
  TempDir dir;
  std::string text = "kept";
  Status missing = ReadWholeFile(dir.Join("missing"), &text);
  CHECK(missing.message() == "cannot read " + dir.Join("missing") + ": No such file or directory");
  // A directory opens, and its read fails: not an empty text.
  Status directory = ReadWholeFile(dir.path(), &text);
  CHECK(directory.message() == "cannot read " + dir.path() + ": Is a directory");
  CHECK(text == "kept");
}

}  // namespace
}  // namespace thriftd
