// x-berth-ssh on the engine: the io.berth.ssh label containers carry (plan/ssh_access.h), its
// encoding, and what a changed key does to a running project.
#include "plan/ssh_access.h"

#include <gtest/gtest.h>

#include "plan/plan_test_util.h"
#include "plan/translate.h"

namespace berth::plan::testing {
namespace {

const std::string kAlice =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINOzf7q2eRxO8x8FEsytkiqX8Ah9uGeTIwBo5Twdb+OE alice@laptop";
const std::string kBob =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOVOZwT22WfRGzccrZvt2ztBXrmvgBQ2r7bG+Wj77evx bob";

std::string withKeys(const std::string& keys, const std::string& more = "") {
  return "services:\n"
         "  web:\n"
         "    image: busybox\n"
         "    x-berth-ssh: {authorized_keys: [" +
         keys + "]" + more +
         "}\n"
         "  db:\n"
         "    image: busybox\n";
}

std::string quotedKey(const std::string& key) { return "\"" + key + "\""; }

TEST(SshAccessLabelTest, ContainersOfAServiceWithTheExtensionCarryIt) {
  const auto p = loadOrDie(
      withKeys(quotedKey(kAlice) + ", " + quotedKey(kBob), ", user: app, allow_forwarding: true, to: [db]"));
  auto web = containerSpec(p, p.services.at("web"), 1, {.version = "0.1.0"});
  ASSERT_TRUE(web) << web.error().message();
  EXPECT_EQ(
      web->create.config.labels.at("io.berth.ssh"),
      R"({"authorized_keys":[")" + kAlice + R"(",")" + kBob + R"("],"user":"app","allow_forwarding":true})");
  auto db = containerSpec(p, p.services.at("db"), 1, {.version = "0.1.0"});
  ASSERT_TRUE(db) << db.error().message();
  EXPECT_EQ(db->create.config.labels.count("io.berth.ssh"), 0u);

  // One-off containers (`run`) are reached the same way.
  auto run = containerSpec(p, p.services.at("web"), 1, {.version = "0.1.0", .oneOff = true, .slug = "abc"});
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->create.config.labels.at("io.berth.ssh"), web->create.config.labels.at("io.berth.ssh"));
}

TEST(SshAccessLabelTest, AChangedKeyRecreatesOnlyThatService) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(withKeys(quotedKey(kAlice)))));
  EXPECT_EQ(planText(r.engine, loadOrDie(withKeys(quotedKey(kAlice)))), "");
  EXPECT_EQ(planText(r.engine, loadOrDie(withKeys(quotedKey(kBob)))), "recreate p-web-1 (config changed)");
  EXPECT_EQ(planText(r.engine, loadOrDie(withKeys(quotedKey(kAlice), ", user: app"))),
            "recreate p-web-1 (config changed)");
}

TEST(SshAccessCodecTest, EncodeDefaultsAndRoundTrip) {
  EXPECT_EQ(encodeSshAccess({}), R"({"authorized_keys":[],"user":"","allow_forwarding":false})");

  spec::SshAccess a;
  a.authorizedKeys = {kAlice, kBob};
  a.user = "app";
  a.allowForwarding = true;
  auto back = decodeSshAccess(encodeSshAccess(a));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, a);

  // What stays out of the label: the key files (their keys are in) and `to`.
  spec::SshAccess b = a;
  b.keyFiles = {"/p/keys.pub"};
  b.to = {"db"};
  EXPECT_EQ(encodeSshAccess(b), encodeSshAccess(a));

  // A comment that is not UTF-8 (key files are read as bytes) still encodes.
  spec::SshAccess c;
  c.authorizedKeys = {kBob + " caf\xe9"};
  auto latin1 = decodeSshAccess(encodeSshAccess(c));
  ASSERT_TRUE(latin1) << latin1.error().message();
  EXPECT_EQ(latin1->authorizedKeys.at(0), kBob + " caf\xef\xbf\xbd");  // U+FFFD
}

TEST(SshAccessCodecTest, DecodeFillsDefaultsAndIgnoresNewerFields) {
  auto a = decodeSshAccess(R"({"authorized_keys":["k1"],"since":"2.0"})");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->authorizedKeys, (std::vector<std::string>{"k1"}));
  EXPECT_EQ(a->user, "");
  EXPECT_FALSE(a->allowForwarding);
}

TEST(SshAccessCodecTest, DecodeErrors) {
  const auto error = [](std::string_view label) {
    auto r = decodeSshAccess(label);
    if (r) return std::string("OK");
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    return r.error().message();
  };
  EXPECT_EQ(error(""), "label io.berth.ssh: not JSON");
  EXPECT_EQ(error("ssh-ed25519 AAAA"), "label io.berth.ssh: not JSON");
  EXPECT_EQ(error(R"({"authorized_keys":[})"), "label io.berth.ssh: not JSON");
  EXPECT_EQ(error(R"(["k1"])"), "label io.berth.ssh: not a JSON object");
  EXPECT_EQ(error(R"({"user":"app"})"), "label io.berth.ssh: missing authorized_keys");
  EXPECT_EQ(error(R"({"authorized_keys":"k1"})"),
            "label io.berth.ssh: authorized_keys must be a list of strings");
  EXPECT_EQ(error(R"({"authorized_keys":["k1",2]})"),
            "label io.berth.ssh: authorized_keys must be a list of strings");
  EXPECT_EQ(error(R"({"authorized_keys":[],"user":0})"), "label io.berth.ssh: user must be a string");
  EXPECT_EQ(error(R"({"authorized_keys":[],"allow_forwarding":"yes"})"),
            "label io.berth.ssh: allow_forwarding must be a boolean");
}

}  // namespace
}  // namespace berth::plan::testing
