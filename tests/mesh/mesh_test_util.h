// Shared by the mesh module's tests: addresses from text, failing the test on a typo.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "mesh/address.h"

namespace berth::mesh {

inline Ipv4Net net(const std::string& text) {
  auto n = parseIpv4Net(text);
  if (!n) {
    ADD_FAILURE() << text << ": " << n.error().message();
    return Ipv4Net{};
  }
  return *n;
}

inline std::uint32_t ip(const std::string& text) {
  auto a = parseIpv4(text);
  if (!a) {
    ADD_FAILURE() << text << ": " << a.error().message();
    return 0;
  }
  return *a;
}

}  // namespace berth::mesh
