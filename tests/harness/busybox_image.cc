#include "harness/busybox_image.h"

#include <cctype>
#include <mutex>

#include "base/files.h"
#include "base/strings.h"
#include "base/tar_writer.h"
#include "harness/engine_probe.h"
#include "harness/subprocess.h"

namespace berth::testing {
namespace {

constexpr const char* kBusyboxBinary = "/bin/busybox";

Result<std::string> buildRootfs() {
  BERTH_ASSIGN_OR_RETURN(std::string binary, readFile(kBusyboxBinary));
  BERTH_ASSIGN_OR_RETURN(CommandResult list, runCommand({kBusyboxBinary, "--list"}));
  if (!list.succeeded()) {
    return fail(ErrorCode::Unavailable, std::string(kBusyboxBinary) + " --list: " + list.describe());
  }
  TarWriter tar;
  for (const char* dir : {"bin", "etc", "root", "var", "var/www", "usr", "usr/bin", "home"}) {
    tar.addDirectory(dir, 0755);
  }
  tar.addDirectory("tmp", 01777);
  tar.addFile("bin/busybox", binary, 0755);
  for (const std::string& applet : split(list.out, '\n')) {
    const std::string name(trim(applet));
    if (name.empty() || name == "busybox" || name.find('/') != std::string::npos) continue;
    tar.addSymlink("bin/" + name, "busybox");
  }
  tar.addSymlink("usr/bin/env", "/bin/env");
  tar.addFile("etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\n"
              "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
              "www-data:x:33:33:www-data:/var/www:/bin/false\n"
              "nobody:x:65534:65534:nobody:/home:/bin/false\n");
  tar.addFile("etc/group", "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n");
  return tar.finish();
}

}  // namespace

Result<std::string> busyboxRootfsTar() {
  static std::mutex mu;
  static std::string* cached = nullptr;  // leaked: lives as long as the test binary
  std::lock_guard lock(mu);
  if (cached == nullptr) {
    BERTH_ASSIGN_OR_RETURN(std::string tar, buildRootfs());
    cached = new std::string(std::move(tar));
  }
  return *cached;
}

Status loadBusyboxImage(const std::string& socketPath) {
  BERTH_ASSIGN_OR_RETURN(std::string tar, busyboxRootfsTar());
  const std::string target =
      "/images/create?fromSrc=-&repo=busybox&tag=latest&changes=" + urlEncode("CMD [\"sh\"]") +
      "&changes=" + urlEncode("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  BERTH_ASSIGN_OR_RETURN(ProbeResponse r,
                         unixHttpRequest(socketPath, "POST", target, tar, "application/x-tar"));
  if (r.status != 200 || r.body.find("\"error") != std::string::npos) {
    return fail(ErrorCode::Internal, "import busybox:latest into unix://" + socketPath + ": " +
                                         std::to_string(r.status) + " " + r.body);
  }
  return ok();
}

}  // namespace berth::testing
