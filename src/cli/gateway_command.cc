// `berth gateway --listen ADDR:PORT [--host-key FILE]`: the SSH gateway (src/gateway) in the
// foreground, on the engine that -H / DOCKER_HOST selects, until SIGINT or SIGTERM. Its log (every
// connection and session) goes to stderr at level info unless --log-level says otherwise.
#include <CLI/CLI.hpp>

#include <iostream>

#include "base/files.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "gateway/gateway.h"

namespace berth::cli {
namespace {

struct GatewayFlags {
  std::string listen = "0.0.0.0:2222";
  std::string hostKey;
};

// "ADDR:PORT", "[V6]:PORT" or ":PORT" (every address).
Result<std::pair<std::string, std::uint16_t>> parseListen(const std::string& text) {
  const auto bad = [&] {
    return fail(ErrorCode::InvalidArgument, "--listen " + berth::quoted(text) + ": expected ADDRESS:PORT (e.g. 0.0.0.0:2222)");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return bad();
  std::string address = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (address.empty()) address = "0.0.0.0";
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad();
  const int number = std::stoi(port);
  if (number > 65535) return bad();
  return std::make_pair(address, static_cast<std::uint16_t>(number));
}

int runGateway(const GlobalOptions& global, const GatewayFlags& f, bool logLevelGiven) {
  if (!logLevelGiven) log::setLevel(log::Level::Info);
  log::setDaemonFormat();
  auto listen = parseListen(f.listen);
  if (!listen) return reportError(listen.error());
  gateway::GatewayOptions o;
  o.address = listen->first;
  o.port = listen->second;
  if (f.hostKey.empty()) {
    auto dir = berthConfigDir();
    if (!dir) return reportError(dir.error());
    o.hostKeyFile = *dir / "gateway" / "ssh_host_ed25519_key";
  } else {
    o.hostKeyFile = f.hostKey;
  }
  auto engine = selectedEngine(global);
  if (!engine) return reportError(engine.error());
  // Fail now, not at the first login, when the engine does not answer.
  if (auto ping = (*engine)->ping(); !ping) return reportError(ping.error());
  auto gw = gateway::Gateway::listen(**engine, o);
  if (!gw) return reportError(gw.error());
  log::info("{} host key {} ({})", (*gw)->generatedHostKey() ? "generated" : "loaded", o.hostKeyFile.string(),
            (*gw)->hostPublicKey());
  log::info("listening on {}:{}, host key fingerprint {}", o.address, (*gw)->port(), (*gw)->hostKeyFingerprint());
  std::stop_source stop;
  InterruptWatcher watcher([&](int) { stop.request_stop(); });
  Status s = (*gw)->serve(stop.get_token());
  if (!s) return reportError(s.error());
  log::info("stopped");
  return 0;
}

}  // namespace

void registerGatewayCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<GatewayFlags>();
  CLI::App* cmd = app.add_subcommand(
      "gateway", "Serve SSH logins straight into containers (x-berth-ssh) on the selected engine");
  cmd->add_option("--listen", f->listen, "Address and port to listen on")->capture_default_str();
  cmd->add_option("--host-key", f->hostKey,
                  "The gateway's host key (generated when missing; default "
                  "$XDG_CONFIG_HOME/berth/gateway/ssh_host_ed25519_key)");
  cmd->callback([&context, f, &app] {
    const bool logLevelGiven = app.get_option("--log-level")->count() > 0;
    context.exitCode = runGateway(context.global, *f, logLevelGiven);
  });
}

}  // namespace berth::cli
