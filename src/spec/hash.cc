#include "spec/hash.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

#include "spec/render.h"

namespace berth::spec {
namespace {

// SHA-256 (FIPS 180-4). Small and self-contained so that src/spec needs no crypto library.
class Sha256 {
 public:
  void update(std::string_view data) {
    for (const char c : data) {
      block_[blockLen_++] = static_cast<std::uint8_t>(c);
      if (blockLen_ == 64) {
        compress();
        blockLen_ = 0;
      }
    }
    bits_ += static_cast<std::uint64_t>(data.size()) * 8;
  }

  std::array<std::uint8_t, 32> finish() {
    const std::uint64_t bits = bits_;
    block_[blockLen_++] = 0x80;
    if (blockLen_ > 56) {
      while (blockLen_ < 64) block_[blockLen_++] = 0;
      compress();
      blockLen_ = 0;
    }
    while (blockLen_ < 56) block_[blockLen_++] = 0;
    for (int i = 7; i >= 0; --i) block_[blockLen_++] = static_cast<std::uint8_t>(bits >> (i * 8));
    compress();
    std::array<std::uint8_t, 32> out{};
    for (std::size_t i = 0; i < 8; ++i) {
      for (std::size_t j = 0; j < 4; ++j) {
        out[i * 4 + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
      }
    }
    return out;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress() {
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::uint32_t w[64];
    for (std::size_t i = 0; i < 16; ++i) {
      w[i] = (static_cast<std::uint32_t>(block_[i * 4]) << 24) |
             (static_cast<std::uint32_t>(block_[i * 4 + 1]) << 16) |
             (static_cast<std::uint32_t>(block_[i * 4 + 2]) << 8) |
             static_cast<std::uint32_t>(block_[i * 4 + 3]);
    }
    for (std::size_t i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const std::uint32_t ch = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + s1 + ch + k[i] + w[i];
      const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = s0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::uint8_t block_[64] = {};
  std::size_t blockLen_ = 0;
  std::uint64_t bits_ = 0;
};

// Sorts every mapping's keys so that the serialization does not depend on insertion order.
Value sorted(const Value& v) {
  if (v.isSequence()) {
    std::vector<Value> items;
    for (const Value& item : v.items()) items.push_back(sorted(item));
    return Value::sequence(std::move(items));
  }
  if (!v.isMapping()) return v;
  std::vector<Value::Entry> entries;
  for (const auto& [k, x] : v.entries()) entries.emplace_back(k, sorted(x));
  std::sort(entries.begin(), entries.end(),
            [](const Value::Entry& a, const Value::Entry& b) { return a.first < b.first; });
  return Value::mapping(std::move(entries));
}

void erase(Value& mapping, std::string_view key) {
  auto& entries = mapping.entries();
  entries.erase(
      std::remove_if(entries.begin(), entries.end(), [&](const Value::Entry& e) { return e.first == key; }),
      entries.end());
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  const auto digest = h.finish();
  std::string out;
  char buf[3];
  for (const std::uint8_t b : digest) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

std::string serviceConfigHash(const Project& project, const Service& service) {
  RenderOptions options;
  options.nestedExtensions = false;
  Value v = renderServiceValue(service, options);
  for (const char* key : {"build", "pull_policy", "scale", "depends_on", "profiles"}) erase(v, key);
  if (Value* deploy = v.find("deploy")) {
    erase(*deploy, "replicas");
    if (deploy->entries().empty()) erase(v, "deploy");
  }
  // The definitions of referenced secrets and configs (never secret values).
  Project referenced;
  for (const FileReference& r : service.secrets) {
    if (auto it = project.secrets.find(r.source); it != project.secrets.end()) {
      referenced.secrets.emplace(it->first, it->second);
    }
  }
  for (const FileReference& r : service.configs) {
    if (auto it = project.configs.find(r.source); it != project.configs.end()) {
      referenced.configs.emplace(it->first, it->second);
    }
  }
  if (!referenced.secrets.empty() || !referenced.configs.empty()) {
    Value top = renderValue(referenced, options);
    if (const Value* s = top.find("secrets")) v.set("x-berth-secrets", *s);
    if (const Value* c = top.find("configs")) v.set("x-berth-configs", *c);
  }
  // x-berth-ssh as bound (its key files already read), so that a changed key, user or peer recreates
  // the containers that carry it; the files' names stay out, only their keys matter. Added only when
  // set, so the hash of every service without it is what it always was.
  if (service.ssh) {
    const auto strings = [](const std::vector<std::string>& list) {
      Value out = Value::sequence();
      for (const std::string& item : list) out.push(Value::string(item));
      return out;
    };
    Value ssh = Value::mapping();
    ssh.set("authorized_keys", strings(service.ssh->authorizedKeys));
    ssh.set("user", Value::string(service.ssh->user));
    ssh.set("allow_forwarding", Value::boolean(service.ssh->allowForwarding));
    ssh.set("to", strings(service.ssh->to));
    v.set("x-berth-ssh", std::move(ssh));
  }
  return sha256Hex(writeJson(sorted(v), -1));
}

}  // namespace berth::spec
