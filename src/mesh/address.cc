#include "mesh/address.h"

#include <fmt/format.h>

#include <charconv>

namespace berth::mesh {

std::string ipv4String(std::uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

std::string Ipv4Net::str() const { return fmt::format("{}/{}", ipv4String(address), prefix); }

Result<std::uint32_t> parseIpv4(std::string_view text) {
  std::uint32_t out = 0;
  std::string_view rest = text;
  for (int part = 0; part < 4; ++part) {
    unsigned value = 0;
    const char* begin = rest.data();
    const char* end = rest.data() + rest.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin || value > 255 || ptr - begin > 3) {
      return fail(ErrorCode::InvalidArgument, fmt::format("\"{}\" is not an IPv4 address", text));
    }
    out = (out << 8) | value;
    rest.remove_prefix(static_cast<std::size_t>(ptr - begin));
    if (part < 3) {
      if (rest.empty() || rest.front() != '.') {
        return fail(ErrorCode::InvalidArgument, fmt::format("\"{}\" is not an IPv4 address", text));
      }
      rest.remove_prefix(1);
    }
  }
  if (!rest.empty()) return fail(ErrorCode::InvalidArgument, fmt::format("\"{}\" is not an IPv4 address", text));
  return out;
}

Result<Ipv4Net> parseIpv4Net(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return fail(ErrorCode::InvalidArgument, fmt::format("\"{}\" is not a network (A.B.C.D/N)", text));
  }
  BERTH_ASSIGN_OR_RETURN(std::uint32_t address, parseIpv4(text.substr(0, slash)));
  const std::string_view p = text.substr(slash + 1);
  int prefix = -1;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 || prefix > 32) {
    return fail(ErrorCode::InvalidArgument, fmt::format("\"{}\": the prefix length must be 0 to 32", text));
  }
  Ipv4Net net{address, prefix};
  if ((address & net.mask()) != address) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("\"{}\" has host bits set (the network is {})", text,
                            Ipv4Net{address & net.mask(), prefix}.str()));
  }
  return net;
}

Status MeshLayout::validate() const {
  if (range.prefix < 8 || range.prefix >= hostPrefix || hostPrefix >= networkPrefix || networkPrefix > 30) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("mesh layout {} with /{} per host and /{} per network: the prefixes must grow "
                            "(range < host < network <= 30, range at least /8)",
                            range.str(), hostPrefix, networkPrefix));
  }
  return ok();
}

Result<Ipv4Net> MeshLayout::hostSubnet(int index) const {
  if (index < 1 || index >= hostCapacity()) {
    return fail(ErrorCode::Conflict,
                fmt::format("the mesh range {} has room for hosts 1 to {} (/{} each); this is host {}",
                            range.str(), hostCapacity() - 1, hostPrefix, index));
  }
  return Ipv4Net{range.address + (static_cast<std::uint32_t>(index) << (32 - hostPrefix)), hostPrefix};
}

Result<Ipv4Net> MeshLayout::freeSlice(const Ipv4Net& hostSubnet, const std::vector<Ipv4Net>& used) const {
  const std::uint32_t step = std::uint32_t{1} << (32 - networkPrefix);
  for (int i = 1; i <= networksPerHost(); ++i) {
    const Ipv4Net slice{hostSubnet.address + static_cast<std::uint32_t>(i) * step, networkPrefix};
    bool taken = false;
    for (const Ipv4Net& u : used) taken = taken || u.overlaps(slice);
    if (!taken) return slice;
  }
  return fail(ErrorCode::Conflict,
              fmt::format("all {} network subnets (/{}) of {} are in use", networksPerHost(), networkPrefix,
                          hostSubnet.str()));
}

}  // namespace berth::mesh
