#include "src/process_title.h"

#include <sys/prctl.h>

#include <cerrno>
#include <cstring>

#include "src/base/plugin_loader.h"

namespace thriftd {
namespace {

// The argv strings' bytes, one run: [start, start + size).
char* g_area = nullptr;
size_t g_area_size = 0;

// The kernel keeps 16 bytes of comm, the last a NUL.
constexpr size_t kCommLength = 15;

}  // namespace

void InitProcessTitle(int argc, char** argv) {
  if (argc < 1 || argv[0] == nullptr) return;
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  // Only strings that follow each other: the kernel lays argv out so, but
  // a string moved elsewhere must not be written past.
  for (int i = 1; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
  g_area = argv[0];
  g_area_size = static_cast<size_t>(end - argv[0]);
}

std::string ProcessName(const Config& config) {
  if (!config.proc_name.empty()) return config.proc_name;
  // The file's name, without the directory or a :NAME choosing an App in it.
  std::string path = ParsePluginSpec(config.app).path;
  return path.substr(path.rfind('/') + 1);
}

std::string MasterTitle(const Config& config) {
  return "thriftd: master [" + ProcessName(config) + "]";
}

std::string WorkerTitle(const Config& config, int index) {
  std::string kind = config.worker_class.substr(config.worker_class.rfind('/') + 1);
  return "thriftd: worker [" + ProcessName(config) + "] " + kind + " " + std::to_string(index);
}

Status SetProcessTitle(const std::string& title) {
  if (g_area != nullptr) {
    // One byte is kept for the NUL that ends the title: the rest is zeroed,
    // so cmdline ends with the title, not with what the old arguments left.
    size_t length = title.size() < g_area_size - 1 ? title.size() : g_area_size - 1;
    std::memcpy(g_area, title.data(), length);
    std::memset(g_area + length, 0, g_area_size - length);
  }
  char comm[kCommLength + 1] = {};
  std::memcpy(comm, title.data(), title.size() < kCommLength ? title.size() : kCommLength);
  if (prctl(PR_SET_NAME, comm, 0, 0, 0) != 0) return Status::FromErrno("prctl(PR_SET_NAME)", errno);
  return Status::Ok();
}

}  // namespace thriftd
