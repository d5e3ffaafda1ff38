// The per-service configuration hash: a fingerprint of everything about a service that is baked
// into its containers, so that a changed hash means "recreate", as compose's
// com.docker.compose.config-hash label does.
//
// What goes in: the service exactly as the canonical printer renders it (spec/render.h) — image,
// command, environment (env_file contents already merged in), ports, volumes, networks, labels,
// healthcheck, deploy resources and every other attribute — plus the definitions (not the values)
// of the top-level secrets and configs the service references (name, file path, environment
// variable name, a config's inline content, external), and, for a service with x-berth-ssh, its
// bound form (the authorized keys, those read from key files included, the user, allow_forwarding and
// `to`; not the key files' names), which its containers carry as the io.berth.ssh label.
// What stays out: build (it produces the image, whose reference is in), pull_policy, scale,
// deploy.replicas (changing the number of replicas adds or removes containers, it does not recreate
// them), depends_on, profiles, and x-* extensions below the top level as written (x-berth-ssh only
// through its bound form). A service without x-berth-ssh hashes as it did before berth knew it.
//
// The hash is SHA-256 over compact JSON with every object's keys sorted, so it is stable across
// runs and processes and does not depend on the order keys were written in the compose files.
// Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "spec/model.h"

namespace berth::spec {

// 64 lowercase hex digits.
std::string serviceConfigHash(const Project& project, const Service& service);

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256Hex(std::string_view data);

}  // namespace berth::spec
