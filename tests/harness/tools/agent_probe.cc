// berth-agent-probe: asks the SSH agent at $SSH_AUTH_SOCK for its keys (SSH2_AGENTC_REQUEST_IDENTITIES)
// and prints "N keys:" and each key's comment on a line. Built static, so the gateway's tests can copy
// it into a busybox container and prove that a forwarded agent answers from inside it.
// Exit status: 0 answered, 1 no agent or no answer.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool readAll(int fd, void* data, std::size_t size) {
  auto* p = static_cast<unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

int main() {
  const char* path = std::getenv("SSH_AUTH_SOCK");
  if (path == nullptr || *path == '\0') {
    std::puts("no SSH_AUTH_SOCK");
    return 1;
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::printf("cannot connect to %s\n", path);
    return 1;
  }
  const unsigned char request[] = {0, 0, 0, 1, 11};  // length 1, SSH2_AGENTC_REQUEST_IDENTITIES
  if (::write(fd, request, sizeof request) != static_cast<ssize_t>(sizeof request)) return 1;
  unsigned char header[4];
  if (!readAll(fd, header, 4)) return 1;
  const std::uint32_t length = be32(header);
  if (length < 5 || length > (1u << 20)) return 1;
  std::string body(length, '\0');
  if (!readAll(fd, body.data(), length)) return 1;
  const auto* b = reinterpret_cast<const unsigned char*>(body.data());
  if (b[0] != 12) return 1;  // SSH2_AGENT_IDENTITIES_ANSWER
  const std::uint32_t keys = be32(b + 1);
  std::printf("%u keys:\n", keys);
  std::size_t at = 5;
  for (std::uint32_t i = 0; i < keys; ++i) {
    if (at + 4 > length) return 1;
    at += 4 + be32(b + at);  // the key blob
    if (at + 4 > length) return 1;
    const std::uint32_t n = be32(b + at);
    if (at + 4 + n > length) return 1;
    std::printf("%.*s\n", static_cast<int>(n), body.data() + at + 4);
    at += 4 + n;
  }
  return 0;
}
