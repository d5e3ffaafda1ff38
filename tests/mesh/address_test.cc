// The mesh's addresses: dotted quads and networks parsed strictly (errors name the text, a network
// with host bits set names the network meant), networks compared, and the layout that gives each
// host a subnet of the cluster range and each of its networks a slice of that subnet.
#include "mesh/address.h"
#include "mesh_test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::mesh {
namespace {

using ::testing::HasSubstr;

// The error parseIpv4 gives for `text` ("parsed" when there is none).
std::string ipError(const std::string& text) {
  auto r = parseIpv4(text);
  if (r) return "parsed as " + ipv4String(*r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument) << text;
  return r.error().message();
}

std::string netError(const std::string& text) {
  auto r = parseIpv4Net(text);
  if (r) return "parsed as " + r->str();
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument) << text;
  return r.error().message();
}

TEST(Ipv4Test, ParsesDottedQuads) {
  auto a = parseIpv4("10.210.1.7");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(*a, 0x0AD20107u);
  EXPECT_EQ(*parseIpv4("0.0.0.0"), 0u);
  EXPECT_EQ(*parseIpv4("255.255.255.255"), 0xFFFFFFFFu);
  EXPECT_EQ(*parseIpv4("192.168.0.1"), 0xC0A80001u);
}

TEST(Ipv4Test, PrintsDottedQuads) {
  EXPECT_EQ(ipv4String(0x0AD20107u), "10.210.1.7");
  EXPECT_EQ(ipv4String(0), "0.0.0.0");
  EXPECT_EQ(ipv4String(0xFFFFFFFFu), "255.255.255.255");
  // Round trip.
  EXPECT_EQ(ipv4String(*parseIpv4("172.16.254.3")), "172.16.254.3");
}

TEST(Ipv4Test, RejectsWhatIsNotAnAddressNamingTheText) {
  EXPECT_EQ(ipError("10.0.0"), "\"10.0.0\" is not an IPv4 address");
  EXPECT_EQ(ipError("10.0.0.256"), "\"10.0.0.256\" is not an IPv4 address");
  EXPECT_EQ(ipError("10.0.0.1.2"), "\"10.0.0.1.2\" is not an IPv4 address");
  EXPECT_EQ(ipError("10.0.0.1 "), "\"10.0.0.1 \" is not an IPv4 address");
  EXPECT_EQ(ipError(" 10.0.0.1"), "\" 10.0.0.1\" is not an IPv4 address");
  EXPECT_EQ(ipError("10..0.1"), "\"10..0.1\" is not an IPv4 address");
  EXPECT_EQ(ipError("10.0.0."), "\"10.0.0.\" is not an IPv4 address");
  EXPECT_EQ(ipError("-1.0.0.0"), "\"-1.0.0.0\" is not an IPv4 address");
  EXPECT_EQ(ipError("10.0.0.0001"), "\"10.0.0.0001\" is not an IPv4 address");
  EXPECT_EQ(ipError("99999999999.0.0.1"), "\"99999999999.0.0.1\" is not an IPv4 address");
  EXPECT_EQ(ipError("ten.zero.zero.one"), "\"ten.zero.zero.one\" is not an IPv4 address");
  EXPECT_EQ(ipError(""), "\"\" is not an IPv4 address");
}

TEST(Ipv4NetTest, ParsesNetworks) {
  const Ipv4Net n = net("10.210.1.0/24");
  EXPECT_EQ(n.address, 0x0AD20100u);
  EXPECT_EQ(n.prefix, 24);
  EXPECT_EQ(n.str(), "10.210.1.0/24");
  EXPECT_EQ(net("10.210.0.0/16"), MeshLayout{}.range);
  EXPECT_EQ(net("10.0.0.1/32").str(), "10.0.0.1/32");
  EXPECT_EQ(net("0.0.0.0/0").str(), "0.0.0.0/0");
}

TEST(Ipv4NetTest, RejectsBadNetworksSayingWhatIsWrong) {
  EXPECT_EQ(netError("1.2.3.4/33"), "\"1.2.3.4/33\": the prefix length must be 0 to 32");
  EXPECT_EQ(netError("1.2.3.4/-1"), "\"1.2.3.4/-1\": the prefix length must be 0 to 32");
  EXPECT_EQ(netError("1.2.3.4/"), "\"1.2.3.4/\": the prefix length must be 0 to 32");
  EXPECT_EQ(netError("1.2.3.4/24x"), "\"1.2.3.4/24x\": the prefix length must be 0 to 32");
  EXPECT_EQ(netError("10.0.0.1/24"), "\"10.0.0.1/24\" has host bits set (the network is 10.0.0.0/24)");
  EXPECT_EQ(netError("10.210.1.7/16"), "\"10.210.1.7/16\" has host bits set (the network is 10.210.0.0/16)");
  EXPECT_EQ(netError("10.0.0.0"), "\"10.0.0.0\" is not a network (A.B.C.D/N)");
  EXPECT_EQ(netError("garbage"), "\"garbage\" is not a network (A.B.C.D/N)");
  // The address part's own error, naming that part.
  EXPECT_EQ(netError("10.0.0.256/24"), "\"10.0.0.256\" is not an IPv4 address");
  EXPECT_EQ(netError("x/24"), "\"x\" is not an IPv4 address");
}

TEST(Ipv4NetTest, ContainsAddressesAndNetworks) {
  const Ipv4Net host = net("10.210.2.0/24");
  EXPECT_TRUE(host.contains(*parseIpv4("10.210.2.0")));
  EXPECT_TRUE(host.contains(*parseIpv4("10.210.2.255")));
  EXPECT_FALSE(host.contains(*parseIpv4("10.210.3.0")));
  EXPECT_FALSE(host.contains(*parseIpv4("10.210.1.255")));

  EXPECT_TRUE(host.contains(net("10.210.2.32/27")));
  EXPECT_TRUE(host.contains(host));
  EXPECT_FALSE(host.contains(net("10.210.0.0/16")));  // bigger: not inside
  EXPECT_FALSE(host.contains(net("10.210.3.0/27")));
  EXPECT_TRUE(net("0.0.0.0/0").contains(host));
}

TEST(Ipv4NetTest, OverlapsEitherWay) {
  const Ipv4Net range = net("10.210.0.0/16");
  EXPECT_TRUE(range.overlaps(net("10.210.7.0/24")));
  EXPECT_TRUE(net("10.210.7.0/24").overlaps(range));
  EXPECT_TRUE(net("10.0.0.0/8").overlaps(range));
  EXPECT_TRUE(range.overlaps(range));
  EXPECT_FALSE(range.overlaps(net("10.211.0.0/16")));
  EXPECT_FALSE(net("10.210.2.32/27").overlaps(net("10.210.2.64/27")));
  EXPECT_FALSE(net("172.17.0.0/16").overlaps(range));
}

TEST(Ipv4NetTest, SizeMaskAndLast) {
  const Ipv4Net slice = net("10.210.2.32/27");
  EXPECT_EQ(slice.size(), 32u);
  EXPECT_EQ(ipv4String(slice.mask()), "255.255.255.224");
  EXPECT_EQ(ipv4String(slice.last()), "10.210.2.63");
  EXPECT_EQ(net("10.0.0.1/32").size(), 1u);
}

TEST(MeshLayoutTest, DefaultsAreValid) {
  const MeshLayout layout;
  EXPECT_TRUE(layout.validate());
  EXPECT_EQ(layout.range.str(), "10.210.0.0/16");
  EXPECT_EQ(layout.hostCapacity(), 256);
  EXPECT_EQ(layout.networksPerHost(), 7);
}

TEST(MeshLayoutTest, ValidateRejectsPrefixesThatDoNotGrow) {
  const auto error = [](Ipv4Net range, int host, int network) -> std::string {
    MeshLayout l;
    l.range = range;
    l.hostPrefix = host;
    l.networkPrefix = network;
    Status s = l.validate();
    if (s) return "valid";
    EXPECT_EQ(s.error().code(), ErrorCode::InvalidArgument);
    return s.error().message();
  };
  const Ipv4Net range = net("10.210.0.0/16");
  EXPECT_EQ(error(range, 24, 27), "valid");
  EXPECT_EQ(error(range, 20, 28), "valid");
  EXPECT_EQ(error(net("10.0.0.0/8"), 16, 24), "valid");
  EXPECT_EQ(error(range, 16, 27),
            "mesh layout 10.210.0.0/16 with /16 per host and /27 per network: the prefixes must grow "
            "(range < host < network <= 30, range at least /8)");
  EXPECT_THAT(error(range, 12, 27), HasSubstr("the prefixes must grow"));
  EXPECT_THAT(error(range, 24, 24), HasSubstr("with /24 per host and /24 per network"));
  EXPECT_THAT(error(range, 27, 24), HasSubstr("the prefixes must grow"));
  EXPECT_THAT(error(range, 24, 31), HasSubstr("/31 per network"));
  EXPECT_THAT(error(net("0.0.0.0/4"), 12, 24), HasSubstr("range at least /8"));
}

TEST(MeshLayoutTest, HostSubnetsFollowTheIndex) {
  const MeshLayout layout;
  EXPECT_EQ(layout.hostSubnet(1)->str(), "10.210.1.0/24");
  EXPECT_EQ(layout.hostSubnet(2)->str(), "10.210.2.0/24");
  EXPECT_EQ(layout.hostSubnet(255)->str(), "10.210.255.0/24");

  MeshLayout wide;
  wide.hostPrefix = 20;
  wide.networkPrefix = 26;
  EXPECT_EQ(wide.hostSubnet(3)->str(), "10.210.48.0/20");
  EXPECT_EQ(wide.networksPerHost(), 63);
}

TEST(MeshLayoutTest, HostSubnetOutsideTheRangeIsAnErrorNamingTheRange) {
  const MeshLayout layout;
  for (int index : {0, 256, -1, 1000}) {
    auto s = layout.hostSubnet(index);
    ASSERT_FALSE(s) << index << " gave " << s->str();
    EXPECT_EQ(s.error().code(), ErrorCode::Conflict);
    EXPECT_EQ(s.error().message(),
              "the mesh range 10.210.0.0/16 has room for hosts 1 to 255 (/24 each); this is host " +
                  std::to_string(index));
  }
}

TEST(MeshLayoutTest, MeshAddressAndGatewayAreTheFirstAddresses) {
  const MeshLayout layout;
  EXPECT_EQ(ipv4String(MeshLayout::meshAddress(*layout.hostSubnet(2))), "10.210.2.1");
  EXPECT_EQ(ipv4String(MeshLayout::gateway(net("10.210.2.32/27"))), "10.210.2.33");
  EXPECT_EQ(ipv4String(MeshLayout::gateway(net("10.210.2.224/27"))), "10.210.2.225");
}

TEST(MeshLayoutTest, FreeSliceSkipsSliceZeroAndUsedSlices) {
  const MeshLayout layout;
  const Ipv4Net host = net("10.210.2.0/24");
  EXPECT_EQ(layout.freeSlice(host, {})->str(), "10.210.2.32/27");
  EXPECT_EQ(layout.freeSlice(host, {net("10.210.2.32/27")})->str(), "10.210.2.64/27");
  // A hole is filled first.
  EXPECT_EQ(layout.freeSlice(host, {net("10.210.2.32/27"), net("10.210.2.96/27")})->str(), "10.210.2.64/27");
  // Anything overlapping a slice takes it, smaller or bigger.
  EXPECT_EQ(layout.freeSlice(host, {net("10.210.2.40/29")})->str(), "10.210.2.64/27");
  EXPECT_EQ(layout.freeSlice(host, {net("10.210.2.0/26")})->str(), "10.210.2.64/27");
  // Another host's slices are no matter.
  EXPECT_EQ(layout.freeSlice(host, {net("10.210.3.32/27")})->str(), "10.210.2.32/27");
}

TEST(MeshLayoutTest, FreeSliceFailsWhenAllSevenAreUsed) {
  const MeshLayout layout;
  const Ipv4Net host = net("10.210.2.0/24");
  std::vector<Ipv4Net> used;
  for (int i = 1; i <= 6; ++i) used.push_back(net("10.210.2." + std::to_string(i * 32) + "/27"));
  EXPECT_EQ(layout.freeSlice(host, used)->str(), "10.210.2.224/27");
  used.push_back(net("10.210.2.224/27"));
  auto s = layout.freeSlice(host, used);
  ASSERT_FALSE(s) << s->str();
  EXPECT_EQ(s.error().code(), ErrorCode::Conflict);
  EXPECT_EQ(s.error().message(), "all 7 network subnets (/27) of 10.210.2.0/24 are in use");
}

}  // namespace
}  // namespace berth::mesh
