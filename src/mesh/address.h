// IPv4 networks of the mesh: the cluster range, each host's subnet in it, and the slices of a host's
// subnet that its networks get.
//
// Layout (defaults): the cluster range 10.210.0.0/16 is split into /24s, one per host by the host's
// index (host 1 gets 10.210.1.0/24; the index is never reused, so a subnet never changes owner).
// A host's /24 is split into /27s: slice 0 is the host's own (its mesh address .1 on the WireGuard
// interface, which also answers DNS for names outside the cluster); slices 1..7 are the subnets of
// the stack networks on that host, one each, taken in order as networks are first created there.
//
// Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::mesh {

struct Ipv4Net {
  std::uint32_t address = 0;  // host byte order; the network address (host bits zero)
  int prefix = 32;

  std::uint32_t size() const { return prefix == 0 ? 0 : (std::uint32_t{1} << (32 - prefix)); }
  std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  std::uint32_t last() const { return address | ~mask(); }
  bool contains(std::uint32_t ip) const { return (ip & mask()) == address; }
  bool contains(const Ipv4Net& other) const { return other.prefix >= prefix && contains(other.address); }
  bool overlaps(const Ipv4Net& other) const { return contains(other.address) || other.contains(address); }
  // "10.210.1.0/24"
  std::string str() const;

  friend bool operator==(const Ipv4Net&, const Ipv4Net&) = default;
  friend auto operator<=>(const Ipv4Net&, const Ipv4Net&) = default;
};

// "10.210.1.7"
std::string ipv4String(std::uint32_t ip);
// Parses a dotted quad. Errors (InvalidArgument) name the text.
Result<std::uint32_t> parseIpv4(std::string_view text);
// Parses "A.B.C.D/N"; host bits must be zero. Errors (InvalidArgument) say what is wrong.
Result<Ipv4Net> parseIpv4Net(std::string_view text);

struct MeshLayout {
  Ipv4Net range{0x0AD20000u, 16};  // 10.210.0.0/16
  int hostPrefix = 24;
  int networkPrefix = 27;

  // Checks the prefixes against each other (range < host < network <= 30). Errors name the values.
  Status validate() const;
  // How many hosts and networks per host the layout has room for.
  int hostCapacity() const { return 1 << (hostPrefix - range.prefix); }
  int networksPerHost() const { return (1 << (networkPrefix - hostPrefix)) - 1; }

  // The subnet of the host with `index` (1, 2, ...). Errors (Conflict) when the range has
  // no room for that index.
  Result<Ipv4Net> hostSubnet(int index) const;
  // The host's address on the mesh: the first address of its subnet's slice 0.
  static std::uint32_t meshAddress(const Ipv4Net& hostSubnet) { return hostSubnet.address + 1; }
  // The first slice of `hostSubnet` (not slice 0) that overlaps none of `used`. Errors
  // (Conflict) when every slice is taken.
  Result<Ipv4Net> freeSlice(const Ipv4Net& hostSubnet, const std::vector<Ipv4Net>& used) const;
  // A network slice's gateway (the host's address on that network's bridge): its first address.
  static std::uint32_t gateway(const Ipv4Net& slice) { return slice.address + 1; }
};

}  // namespace berth::mesh
