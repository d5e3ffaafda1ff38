#include "harness/systemd_image.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "base/files.h"
#include "base/strings.h"
#include "base/tar_writer.h"
#include "harness/engine_probe.h"
#include "harness/subprocess.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

// The libraries `ldd` lists for a program (absolute paths).
Result<std::vector<std::string>> librariesOf(const std::string& program) {
  BERTH_ASSIGN_OR_RETURN(CommandResult r, runCommand({"ldd", program}));
  if (!r.succeeded()) return fail(ErrorCode::Unavailable, "ldd " + program + ": " + r.describe());
  std::vector<std::string> libs;
  for (const std::string& line : split(r.out, '\n')) {
    for (const std::string& word : split(line, ' ')) {
      const std::string w(trim(word));
      if (!w.empty() && w.front() == '/') libs.push_back(w);
    }
  }
  return libs;
}

// Adds `path` (symlinks followed, as the loader sees it) and its parent directories.
Status addFile(TarWriter& tar, std::set<std::string>& dirs, const std::string& path, unsigned mode) {
  BERTH_ASSIGN_OR_RETURN(std::string content, readFile(fs::canonical(path)));
  fs::path parent = fs::path(path).parent_path();
  std::vector<std::string> missing;
  for (; !parent.empty() && parent != "/"; parent = parent.parent_path()) {
    if (dirs.insert(parent.string()).second) missing.push_back(parent.string());
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) tar.addDirectory(*it, 0755);
  tar.addFile(path, content, mode);
  return ok();
}

std::string unit(const std::string& body) { return "[Unit]\n" + body; }

Result<std::string> buildRootfs(const std::string& programForLibraries) {
  TarWriter tar;
  std::set<std::string> dirs;
  for (const char* d : {"bin", "sbin", "etc", "root", "run", "var", "usr", "usr/local", "usr/local/bin", "proc", "sys",
                        "dev", "lib", "lib/systemd", "lib/systemd/system", "etc/systemd", "etc/systemd/system",
                        "etc/systemd/system/multi-user.target.wants"}) {
    tar.addDirectory(d, 0755);
    dirs.insert(std::string("/") + d);
  }
  tar.addDirectory("tmp", 01777);
  std::set<std::string> files;
  // systemd-shutdown is what PID 1 becomes at the end of a shutdown (docker stop/restart send
  // SIGRTMIN+3: halt.target).
  for (const std::string& program : {std::string("/lib/systemd/systemd"), std::string("/bin/systemctl"),
                                     std::string("/lib/systemd/systemd-shutdown")}) {
    files.insert(program);
    BERTH_ASSIGN_OR_RETURN(auto libs, librariesOf(program));
    files.insert(libs.begin(), libs.end());
  }
  BERTH_ASSIGN_OR_RETURN(auto libs, librariesOf(programForLibraries));
  files.insert(libs.begin(), libs.end());
  for (const std::string& f : files) BERTH_TRY(addFile(tar, dirs, f, 0755));
  BERTH_TRY(addFile(tar, dirs, "/bin/busybox", 0755));
  BERTH_ASSIGN_OR_RETURN(CommandResult list, runCommand({"/bin/busybox", "--list"}));
  for (const std::string& applet : split(list.out, '\n')) {
    const std::string name(trim(applet));
    if (name.empty() || name == "busybox" || files.count("/bin/" + name) != 0) continue;
    tar.addSymlink("bin/" + name, "busybox");
  }
  tar.addSymlink("sbin/init", "/lib/systemd/systemd");
  tar.addFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  tar.addFile("etc/group", "root:x:0:\nnogroup:x:65534:\n");
  tar.addFile("etc/os-release", "NAME=\"berth test systemd host\"\nID=berth-test\n");
  tar.addFile("etc/machine-id", "");
  // The units systemd's default dependencies name.
  for (const char* target : {"multi-user", "sysinit", "basic", "sockets", "paths", "timers", "network",
                             "network-online", "local-fs", "slices", "swap"}) {
    tar.addFile(std::string("lib/systemd/system/") + target + ".target", unit(std::string("Description=") + target + "\n"));
  }
  // The way down, as Debian's systemd ships it.
  for (const char* shutdownUnit : {"halt.target", "systemd-halt.service", "poweroff.target", "systemd-poweroff.service",
                                   "shutdown.target", "umount.target", "final.target"}) {
    BERTH_TRY(addFile(tar, dirs, std::string("/lib/systemd/system/") + shutdownUnit, 0644));
  }
  tar.addSymlink("lib/systemd/system/default.target", "multi-user.target");
  tar.addFile("lib/systemd/system/docker.service",
              unit("Description=the engine (outside this container: its socket is mounted in)\n") +
                  "[Service]\nType=oneshot\nExecStart=/bin/true\nRemainAfterExit=yes\n[Install]\n"
                  "WantedBy=multi-user.target\n");
  tar.addSymlink("etc/systemd/system/multi-user.target.wants/docker.service", "/lib/systemd/system/docker.service");
  return tar.finish();
}

}  // namespace

Status loadSystemdImage(const std::string& socketPath, const std::string& programForLibraries) {
  BERTH_ASSIGN_OR_RETURN(std::string tar, buildRootfs(programForLibraries));
  const std::string ref(kSystemdImage);
  const auto colon = ref.rfind(':');
  const std::string target = "/images/create?fromSrc=-&repo=" + urlEncode(ref.substr(0, colon)) +
                             "&tag=" + ref.substr(colon + 1) + "&changes=" +
                             urlEncode("CMD [\"/lib/systemd/systemd\"]") + "&changes=" + urlEncode("ENV container=docker");
  BERTH_ASSIGN_OR_RETURN(ProbeResponse r, unixHttpRequest(socketPath, "POST", target, tar, "application/x-tar"));
  if (r.status != 200 || r.body.find("\"error") != std::string::npos) {
    return fail(ErrorCode::Internal, "import " + ref + " into unix://" + socketPath + ": " + std::to_string(r.status) +
                                         " " + r.body);
  }
  return ok();
}

bool unifiedCgroups() {
  std::error_code ec;
  return fs::exists("/sys/fs/cgroup/cgroup.controllers", ec);
}

}  // namespace berth::testing
