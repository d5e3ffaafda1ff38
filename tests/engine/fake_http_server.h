// A scripted HTTP/1.1 server on a Unix socket in a temporary directory, for testing the engine
// client's protocol handling (keep-alive, retries, timeouts, truncation, upgrades, chunked uploads)
// without an engine. Each connection runs on its own thread; the handler decides what bytes to
// answer each request with. Request bodies are read by Content-Length or, for Transfer-Encoding:
// chunked, chunk by chunk (decoded into `body`, with the bytes as sent in `rawBody`); with
// answerBeforeBody() the handler answers right after the request's head, reads none of its body,
// and the connection is closed after the answer, as an engine refusing a request does.
#pragma once

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::engine::testing {

struct FakeRequest {
  std::string method;
  std::string target;
  std::string head;  // request line and headers
  std::string body;
  std::string rawBody;              // the body's bytes as they came (with chunked framing)
  std::vector<std::string> chunks;  // a chunked body's chunks, decoded, in order
  int connection = 0;               // 1-based index of the connection it arrived on
};

struct FakeReply {
  std::string bytes;        // written as they are
  bool closeAfter = false;  // close the connection after writing
  bool hang = false;        // then wait (without answering more) until the server stops
  // After writing, echo whatever the client sends back, uppercased, until it half-closes (upgrades).
  bool echoUpper = false;
  // Then wait until the server stops without reading another byte (the client's writes fill the
  // socket's buffer and block).
  bool stall = false;
};

inline std::string httpReply(int status, std::string_view reason, std::string_view body,
                             std::string_view extraHeaders = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n" +
         std::string(extraHeaders) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

class FakeHttpServer {
 public:
  using Handler = std::function<FakeReply(const FakeRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    char tmpl[] = "/tmp/berth-fake-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/engine.sock";
    listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listenFd_, 16) != 0) {
      std::abort();
    }
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~FakeHttpServer() {
    stopping_ = true;
    ::shutdown(listenFd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listenFd_);
    std::filesystem::remove_all(dir_);
  }

  // From now on, answer each request after its head (see the header comment).
  void answerBeforeBody() { answerBeforeBody_ = true; }

  const std::string& socketPath() const { return path_; }
  std::string url() const { return "unix://" + path_; }
  int connections() const { return accepted_.load(); }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      const int index = ++accepted_;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      workers_.emplace_back([this, fd, index] { serve(fd, index); });
    }
  }

  // Reads one request's head; false at end of stream.
  bool readHead(int fd, std::string& buffer, FakeRequest& req) {
    req = FakeRequest{};
    while (true) {
      const auto end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        req.head = buffer.substr(0, end + 2);
        buffer.erase(0, end + 4);
        const auto sp1 = req.head.find(' ');
        const auto sp2 = req.head.find(' ', sp1 + 1);
        req.method = req.head.substr(0, sp1);
        req.target = req.head.substr(sp1 + 1, sp2 - sp1 - 1);
        return true;
      }
      if (!readMore(fd, buffer)) return false;
    }
  }

  // Reads the body of the request whose head was read; false at end of stream or on bad framing.
  bool readBody(int fd, std::string& buffer, FakeRequest& req) {
    if (req.head.find("Transfer-Encoding: chunked\r\n") == std::string::npos) {
      std::size_t length = 0;
      const auto cl = req.head.find("Content-Length: ");
      if (cl != std::string::npos) length = std::stoul(req.head.substr(cl + 16));
      while (buffer.size() < length) {
        if (!readMore(fd, buffer)) return false;
      }
      req.body = req.rawBody = buffer.substr(0, length);
      buffer.erase(0, length);
      return true;
    }
    while (true) {
      auto eol = buffer.find("\r\n");
      while (eol == std::string::npos) {
        if (!readMore(fd, buffer)) return false;
        eol = buffer.find("\r\n");
      }
      const std::size_t size = std::stoul(buffer.substr(0, eol), nullptr, 16);
      while (buffer.size() < eol + 2 + size + 2) {
        if (!readMore(fd, buffer)) return false;
      }
      if (buffer.compare(eol + 2 + size, 2, "\r\n") != 0) return false;
      req.rawBody += buffer.substr(0, eol + 2 + size + 2);
      if (size == 0) {  // the last chunk; no trailers
        buffer.erase(0, eol + 4);
        return true;
      }
      req.chunks.push_back(buffer.substr(eol + 2, size));
      req.body += req.chunks.back();
      buffer.erase(0, eol + 2 + size + 2);
    }
  }

  static bool readMore(int fd, std::string& buffer) {
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static void writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void serve(int fd, int index) {
    std::string buffer;
    FakeRequest req;
    while (readHead(fd, buffer, req)) {
      const bool early = answerBeforeBody_;
      if (!early && !readBody(fd, buffer, req)) break;
      req.connection = index;
      {
        std::lock_guard lock(mu_);
        targets_.push_back(req.method + " " + req.target);
      }
      const FakeReply reply = handler_(req);
      writeAll(fd, reply.bytes);
      if (reply.echoUpper) {
        std::string data = std::move(buffer);
        while (true) {
          for (char& c : data) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          writeAll(fd, data);
          data.clear();
          if (!readMore(fd, data)) break;
        }
        writeAll(fd, "<EOF>");
        break;
      }
      if (reply.hang) {
        while (!stopping_) {
          pollfd p{fd, POLLIN, 0};
          ::poll(&p, 1, 50);
          if ((p.revents & (POLLHUP | POLLERR)) != 0) break;
          if ((p.revents & POLLIN) != 0) {
            char c;
            if (::read(fd, &c, 1) <= 0) break;
          }
        }
        break;
      }
      if (reply.stall) {
        while (!stopping_) {
          pollfd p{fd, 0, 0};
          ::poll(&p, 1, 50);
          if ((p.revents & (POLLHUP | POLLERR)) != 0) break;
        }
        break;
      }
      if (reply.closeAfter || early) break;
    }
    std::lock_guard lock(mu_);
    ::shutdown(fd, SHUT_RDWR);
  }

  Handler handler_;
  std::string dir_;
  std::string path_;
  int listenFd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> answerBeforeBody_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> workers_;
  std::vector<std::string> targets_;
};

}  // namespace berth::engine::testing
