#include "call/idl_compiler.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "call/enum_types.h"
#include "src/base/read_whole_file.h"
#include "src/base/unique_fd.h"

namespace thriftd::call {
namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A directory of the compiler's output, removed with its files (it holds
// flat files only: -out writes no subdirectory for the json generator).
class TempDir {
 public:
  Status Create() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base ? base : "/tmp") + "/thriftd-call.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr)
      return Status::FromErrno("mkdtemp(" + pattern + ")", errno);
    path_ = pattern;
    return Status::Ok();
  }
  ~TempDir() {
    if (path_.empty()) return;
    if (DIR* dir = opendir(path_.c_str())) {
      while (dirent* entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") (void)unlink((path_ + "/" + name).c_str());
      }
      closedir(dir);
    }
    (void)rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs argv with stdout and stderr into one pipe; *output gets what it
// said, *exit_status its exit status (127: it could not be run).
Status Run(const std::vector<std::string>& argv, std::string* output, int* exit_status) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    if (dup2(write_end.get(), 1) < 0 || dup2(write_end.get(), 2) < 0) _exit(126);
    execvp(args[0], args.data());
    _exit(errno == ENOENT ? 127 : 126);
  }
  write_end.Reset();
  char buffer[4096];
  while (true) {
    ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n > 0) {
      output->append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      break;  // the status below still says how the compiler ended
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno("waitpid(thrift)", errno);
  }
  *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Status::Ok();
}

// The compiler's message, on one line: its lines joined, blank ones dropped.
std::string OneLine(const std::string& text) {
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    if (part.find_first_not_of(" \t\r") != std::string::npos)
      line += (line.empty() ? "" : " ") + part;
    start = end + 1;
  }
  return line;
}

// Every program's JSON in `dir`, rewritten with the enum types its XML has.
Status RestoreEnumTypesIn(const std::string& dir) {
  std::vector<std::string> json_paths, xml_paths;
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) return Status::FromErrno("opendir(" + dir + ")", errno);
  while (dirent* entry = readdir(listing)) {
    std::string name = entry->d_name;
    if (EndsWith(name, ".json")) json_paths.push_back(dir + "/" + name);
    if (EndsWith(name, ".xml")) xml_paths.push_back(dir + "/" + name);
  }
  closedir(listing);
  // Keyed by path, so that an XML error names the file it is in.
  std::map<std::string, std::string> xml_files;
  for (const std::string& path : xml_paths) {
    Status status = ReadWholeFile(path, &xml_files[path]);
    if (!status.ok()) return status;
  }
  std::vector<nlohmann::json> programs;
  for (const std::string& path : json_paths) {
    std::string text;
    Status status = ReadWholeFile(path, &text);
    if (!status.ok()) return status;
    programs.push_back(nlohmann::json::parse(text, nullptr, /*exceptions=*/false));
    if (programs.back().is_discarded()) return Status::Error(path + ": not JSON");
  }
  Status status = RestoreEnumTypes(xml_files, &programs);
  if (!status.ok()) return status;
  for (size_t i = 0; i < json_paths.size(); ++i) {
    std::ofstream out(json_paths[i], std::ios::trunc);
    out << programs[i].dump();
    out.flush();
    if (!out) return Status::Error(json_paths[i] + ": cannot be written");
  }
  return Status::Ok();
}

}  // namespace

Status LoadSchema(const std::string& idl, const std::vector<std::string>& include_dirs,
                  Schema* schema) {
  if (EndsWith(idl, ".json")) return schema->LoadFile(idl);
  if (access(idl.c_str(), R_OK) != 0) return Status::FromErrno("--idl " + idl, errno);
  TempDir out;
  Status status = out.Create();
  if (!status.ok()) return status;
  // JSON for the schema, then XML for the enum types the JSON loses
  // (enum_types.h); both write one file per program into `out`.
  for (const char* generator : {"json", "xml"}) {
    std::vector<std::string> argv = {"thrift", "-r", "--gen", generator, "-out", out.path()};
    for (const std::string& dir : include_dirs) {
      argv.push_back("-I");
      argv.push_back(dir);
    }
    argv.push_back(idl);
    std::string output;
    int exit_status = 0;
    status = Run(argv, &output, &exit_status);
    if (!status.ok()) return status;
    if (exit_status == 127) {
      return Status::Error(
          "the Thrift compiler `thrift` is not on PATH (Debian: apt install thrift-compiler); "
          "or give --idl a .json schema (thrift --gen json)");
    }
    if (exit_status != 0) {
      return Status::Error(std::string("thrift --gen ") + generator + " " + idl + ": " +
                           OneLine(output));
    }
  }
  status = RestoreEnumTypesIn(out.path());
  if (!status.ok()) return status.Prepend("thrift --gen json " + idl);
  // The compiler names a program after its file, up to the last dot,
  // whatever the extension ("svc.idl" is program svc, written svc.json).
  std::string base = idl.substr(idl.rfind('/') == std::string::npos ? 0 : idl.rfind('/') + 1);
  if (base.rfind('.') != std::string::npos) base.resize(base.rfind('.'));
  return schema->LoadFile(out.path() + "/" + base + ".json");
}

}  // namespace thriftd::call
