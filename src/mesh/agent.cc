#include "mesh/agent.h"

#include <fmt/format.h>

#include <set>
#include <vector>

#include "base/strings.h"
#include "base/tar_writer.h"
#include "mesh/agent_config.h"

namespace berth::mesh {
namespace {

// The agent's PID 1: makes the key pair on first start, re-applies the last configuration (the
// engine restarted it: the host's mesh comes back without berthd), then waits, reaping the DNS
// servers and wireguard-go it started.
constexpr std::string_view kEntryScript = R"SH(#!/bin/sh
S=/var/lib/berth-net
R=/run/berth-net
mkdir -p "$S" "$R"
umask 077
if [ ! -s "$S/private.key" ]; then
  wg genkey >"$S/private.key.new" && mv "$S/private.key.new" "$S/private.key" ||
    { echo "berth-net: cannot make a WireGuard key (is wireguard-tools installed?)" >&2; exit 1; }
fi
umask 022
wg pubkey <"$S/private.key" >"$S/public.key.new" && mv "$S/public.key.new" "$S/public.key"
if [ -s "$S/apply.sh" ]; then
  sh "$S/apply.sh" || echo "berth-net: the last configuration did not apply; berthd will send it again" >&2
fi
echo "berth-net: up, public key $(cat "$S/public.key")"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
)SH";

constexpr std::string_view kDockerfile =
    "FROM scratch\n"
    "COPY berth-net /berth-net\n"
    "LABEL io.berth.net-agent=1\n";

std::uint32_t fnv1a(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

engine::ContainerCreate agentSpec() {
  engine::ContainerCreate c;
  c.name = std::string(kAgentContainer);
  c.config.image = agentImage();
  c.config.cmd = std::vector<std::string>{"/bin/sh", "/berth-net"};
  c.config.labels[std::string(kAgentLabel)] = "1";
  engine::HostConfig& h = c.hostConfig;
  h.networkMode = "host";
  h.capAdd = {"NET_ADMIN", "NET_RAW"};
  h.resources.devices.push_back(engine::DeviceMapping{"/dev/net/tun", "/dev/net/tun", "rwm"});
  // The host's programs, read-only; /run for the iptables lock the engine shares.
  h.binds = {"/usr:/usr:ro", "/etc:/etc:ro", "/lib:/lib:ro", "/lib64:/lib64:ro", "/bin:/bin:ro",
             "/sbin:/sbin:ro", "/run:/run", fmt::format("{}:{}", kAgentVolume, kStateDir)};
  // Its own pid files and logs, gone when it stops (so are the processes they name).
  h.tmpfs[std::string(kRunDir)] = "mode=0700";
  h.restartPolicy.name = engine::RestartPolicyName::Always;
  return c;
}

struct ExecOutcome {
  int exitCode = -1;
  std::string output{};  // stdout and stderr, interleaved, at most 64 KiB
};

// Runs `cmd` in the agent and waits for it to end.
Result<ExecOutcome> execCapture(engine::Engine& engine, std::vector<std::string> cmd) {
  engine::ExecCreate spec;
  spec.cmd = std::move(cmd);
  BERTH_ASSIGN_OR_RETURN(std::string exec, engine.createExec(std::string(kAgentContainer), spec));
  BERTH_ASSIGN_OR_RETURN(auto stream, engine.startExecAttached(exec, false));
  ExecOutcome out;
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(auto chunk, stream->readOutput());
    if (!chunk) break;
    if (out.output.size() < 64 * 1024) out.output += chunk->data;
  }
  BERTH_ASSIGN_OR_RETURN(engine::ExecInspect done, engine.inspectExec(exec));
  out.exitCode = done.exitCode.value_or(-1);
  return out;
}

}  // namespace

std::string agentImage() {
  return fmt::format("berth-net:{:08x}", fnv1a(std::string(kEntryScript) + std::string(kDockerfile)));
}

Status ensureAgent(engine::Engine& engine) {
  const std::string image = agentImage();
  if (!engine.inspectImage(image)) {
    TarWriter context;
    context.addFile("Dockerfile", kDockerfile);
    context.addFile("berth-net", kEntryScript, 0755);
    engine::BuildOptions options;
    options.tags = {image};
    options.forceRemove = true;
    auto built = engine.buildImage(context.finish(), options, {});
    if (!built) {
      return fail(built.error().code(), fmt::format("building the network agent's image {}: {}", image,
                                                    built.error().message()));
    }
  }
  auto existing = engine.inspectContainer(std::string(kAgentContainer));
  if (existing && existing->config.image != image) {
    if (Status s = engine.removeContainer(existing->id, {.force = true, .volumes = false}); !s) {
      return fail(s.error().code(), "replacing the network agent: " + s.error().message());
    }
    existing = fail(ErrorCode::NotFound, "replaced");
  }
  std::string id;
  if (existing) {
    if (existing->state.running || existing->state.restarting) return ok();
    id = existing->id;
  } else {
    if (existing.error().code() != ErrorCode::NotFound) return existing.error();
    auto created = engine.createContainer(agentSpec());
    if (!created) {
      return fail(created.error().code(), fmt::format("creating the network agent: {}", created.error().message()));
    }
    id = created->id;
  }
  if (Status s = engine.startContainer(id); !s) {
    return fail(s.error().code(), fmt::format("starting the network agent: {}", s.error().message()));
  }
  return ok();
}

Result<std::string> agentPublicKey(engine::Engine& engine) {
  BERTH_ASSIGN_OR_RETURN(ExecOutcome out, execCapture(engine, {"cat", std::string(kStateDir) + "/public.key"}));
  std::string key(trim(out.output));
  if (out.exitCode != 0 || key.empty()) return fail(ErrorCode::NotFound, "the network agent has no public key yet");
  return key;
}

Status uploadAgentFiles(engine::Engine& engine, const std::map<std::string, std::string>& files) {
  TarWriter tar;
  std::set<std::string> dirs;
  for (const auto& [path, content] : files) {
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      const std::string dir = path.substr(0, slash);
      if (dirs.insert(dir).second) tar.addDirectory(dir);
    }
    // Certificates carry their private keys.
    tar.addFile(path, content, path.rfind("certs/", 0) == 0 ? 0600 : 0644);
  }
  return engine.putArchive(std::string(kAgentContainer), std::string(kStateDir), tar.finish(), {});
}

Status runAgentScript(engine::Engine& engine, const std::string& script) {
  BERTH_ASSIGN_OR_RETURN(ExecOutcome out, execCapture(engine, {"/bin/sh", std::string(kStateDir) + "/" + script}));
  if (out.exitCode != 0) {
    std::string why(trim(out.output));
    // The script's own message is its last line ("berth-net: cannot run WireGuard: ...").
    if (auto nl = why.rfind('\n'); nl != std::string::npos) why = why.substr(nl + 1);
    if (startsWith(why, "berth-net: ")) why = why.substr(11);
    return fail(ErrorCode::Internal,
                why.empty() ? fmt::format("the network agent's {} exited with {}", script, out.exitCode) : why);
  }
  return ok();
}

Status removeAgent(engine::Engine& engine) {
  auto existing = engine.inspectContainer(std::string(kAgentContainer));
  if (!existing) return existing.error().code() == ErrorCode::NotFound ? ok() : existing.error();
  Status cleaned = ok();
  if (existing->state.running) {
    cleaned = uploadAgentFiles(engine, {{"leave.sh", renderLeaveScript()}});
    if (cleaned) cleaned = runAgentScript(engine, "leave.sh");
  } else {
    cleaned = fail(ErrorCode::Unavailable,
                   "the network agent was not running: what it set up on the host (the berth0 interface, the "
                   "BERTH-MESH iptables chains) may remain");
  }
  if (Status s = engine.removeContainer(existing->id, {.force = true, .volumes = false}); !s) {
    return fail(s.error().code(), "removing the network agent: " + s.error().message());
  }
  // Its image is berth's alone; another version's, or one in use elsewhere, stays.
  (void)engine.removeImage(existing->config.image, {});
  return cleaned;
}

}  // namespace berth::mesh
