// The network agent: one container per host, named berth-net, that berthd starts through the
// host's engine (so it needs nothing but the engine's API to reach the host) and configures by
// uploading files into it and running its script (agent_config.h).
//
// The container runs on the host's network with NET_ADMIN and NET_RAW and the host's TUN device,
// with the host's own programs mounted read-only (/usr, /etc and the library directories): the
// WireGuard tools, wireguard-go, iproute2, iptables and dnsmasq come from the host's Debian
// packages, so the iptables it writes are the very ones the engine writes. Its image is a tiny
// scratch image berthd builds on the host (the entry script only). The engine restarts it with
// the engine (restart policy always); on start it runs the last script it was given, so the
// mesh comes back without berthd. Its private key is made in its volume on first start and
// never leaves the host; berthd reads only the public key.
#pragma once

#include <map>
#include <string>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::mesh {

inline constexpr std::string_view kAgentContainer = "berth-net";
inline constexpr std::string_view kAgentVolume = "berth-net";
// The container's label that marks it as berth's network agent.
inline constexpr std::string_view kAgentLabel = "io.berth.net-agent";

// The image reference for this berth's agent (its tag names the entry script's version).
std::string agentImage();

// Makes sure the agent runs: builds its image when the engine lacks it, creates the container
// when missing or made from another image, starts it when stopped. Errors say what failed; a host
// without /dev/net/tun fails here, at create.
Status ensureAgent(engine::Engine& engine);

// The agent's WireGuard public key (made at its first start). Errors: NotFound while the agent
// has not written it yet (just started), others from the engine.
Result<std::string> agentPublicKey(engine::Engine& engine);

// Writes files (paths relative to the agent's state directory) into the agent.
Status uploadAgentFiles(engine::Engine& engine, const std::map<std::string, std::string>& files);

// Runs an uploaded script (apply.sh, ingress.sh) in the agent and waits for it. Errors carry the
// script's own message.
Status runAgentScript(engine::Engine& engine, const std::string& script);

// The host leaves the mesh: the agent undoes what it set up on the host (agent_config.h,
// renderLeaveScript), then its container and image are removed. Its volume, with the host's key
// pair, stays (volumes go only when a user says so). No agent: nothing to do. Errors say which
// step failed; the container is removed even when the clean-up script failed.
Status removeAgent(engine::Engine& engine);

}  // namespace berth::mesh
