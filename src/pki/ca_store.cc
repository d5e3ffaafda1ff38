#include "pki/ca_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/files.h"
#include "base/strings.h"

namespace berth::pki {
namespace {

namespace fs = std::filesystem;

constexpr const char* kIndexHeader =
    "# berth CA index: serial, kind, name, not before, not after, SHA-256 fingerprint "
    "(tab-separated)\n";

// Holds an exclusive flock on DIR/index.lock for the object's life.
class IndexLock {
 public:
  static Result<IndexLock> acquire(const fs::path& dir) {
    const fs::path path = dir / "index.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fail(ErrorCode::Unavailable, path.string() + ": " + std::strerror(errno));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd);
        return fail(ErrorCode::Unavailable, path.string() + ": flock: " + std::strerror(err));
      }
    }
    return IndexLock(fd);
  }
  IndexLock(IndexLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  IndexLock& operator=(IndexLock&&) = delete;
  ~IndexLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit IndexLock(int fd) : fd_(fd) {}
  int fd_;
};

std::string indexLine(const IssuedRecord& r) {
  return r.serial + "\t" + std::string(certificateKindName(r.kind)) + "\t" + r.name + "\t" +
         formatTime(r.notBefore) + "\t" + formatTime(r.notAfter) + "\t" + r.sha256Fingerprint + "\n";
}

Result<IssuedRecord> parseIndexLine(const std::string& line) {
  const std::vector<std::string> f = split(line, '\t');
  if (f.size() != 6) return fail(ErrorCode::InvalidArgument, "expected 6 tab-separated fields");
  IssuedRecord r;
  r.serial = f[0];
  const auto kind = parseCertificateKind(f[1]);
  if (!kind) return fail(ErrorCode::InvalidArgument, "unknown kind " + berth::quoted(f[1]));
  r.kind = *kind;
  r.name = f[2];
  BERTH_ASSIGN_OR_RETURN(r.notBefore, parseTime(f[3]));
  BERTH_ASSIGN_OR_RETURN(r.notAfter, parseTime(f[4]));
  r.sha256Fingerprint = f[5];
  return r;
}

}  // namespace

Result<fs::path> CaStore::defaultDirectory() {
  BERTH_ASSIGN_OR_RETURN(fs::path config, berthConfigDir());
  return config / "ca";
}

Result<CaStore> CaStore::init(const fs::path& dir, const CaRequest& request) {
  std::error_code ec;
  if (fs::exists(dir / "ca.pem", ec) || fs::exists(dir / "ca-key.pem", ec)) {
    return fail(ErrorCode::AlreadyExists,
                "a CA already exists in " + dir.string() + " (berth never replaces it)");
  }
  BERTH_TRY(ensurePrivateDir(dir));
  BERTH_ASSIGN_OR_RETURN(Authority authority, Authority::create(request));
  // The key first: a CA certificate without its key would be useless.
  BERTH_TRY(authority.key().save(dir / "ca-key.pem"));
  BERTH_TRY(authority.certificate().save(dir / "ca.pem"));
  BERTH_TRY(writeFileAtomic(
      dir / "index", kIndexHeader,
      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));
  return CaStore(dir, std::move(authority));
}

Result<CaStore> CaStore::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "ca.pem", ec)) {
    return fail(ErrorCode::NotFound, "no CA in " + dir.string() + " (run `berth ca init`)");
  }
  BERTH_ASSIGN_OR_RETURN(Certificate cert, Certificate::load(dir / "ca.pem"));
  BERTH_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::load(dir / "ca-key.pem"));
  auto authority = Authority::fromParts(std::move(cert), std::move(key));
  if (!authority) return fail(std::move(authority).error().withContext(dir.string()));
  return CaStore(dir, std::move(*authority));
}

Result<Issued> CaStore::issue(const CertificateRequest& request) {
  BERTH_ASSIGN_OR_RETURN(Issued issued, authority_.issue(request));
  const CertificateInfo info = issued.certificate.info();
  IssuedRecord record{info.serial,    request.kind,  request.commonName,
                      info.notBefore, info.notAfter, info.sha256Fingerprint};
  BERTH_ASSIGN_OR_RETURN(IndexLock lock, IndexLock::acquire(dir_));
  std::error_code ec;
  fs::create_directories(dir_ / "issued", ec);
  if (ec) return fail(ErrorCode::Unavailable, (dir_ / "issued").string() + ": " + ec.message());
  BERTH_TRY(issued.certificate.save(dir_ / "issued" / (info.serial + ".pem")));
  std::string index;
  if (auto existing = readFile(dir_ / "index"); existing) {
    index = std::move(*existing);
  } else if (existing.error().code() == ErrorCode::NotFound) {
    index = kIndexHeader;
  } else {
    return fail(existing.error());
  }
  if (!index.empty() && index.back() != '\n') index += '\n';
  index += indexLine(record);
  BERTH_TRY(writeFileAtomic(
      dir_ / "index", index,
      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));
  return issued;
}

Result<std::vector<IssuedRecord>> CaStore::list() const {
  const fs::path path = dir_ / "index";
  auto text = readFile(path);
  if (!text) {
    if (text.error().code() == ErrorCode::NotFound) return std::vector<IssuedRecord>{};
    return fail(text.error());
  }
  std::vector<IssuedRecord> records;
  int lineNo = 0;
  for (const std::string& line : split(*text, '\n')) {
    ++lineNo;
    if (line.empty() || line.front() == '#') continue;
    auto record = parseIndexLine(line);
    if (!record) {
      return fail(std::move(record).error().withContext(path.string() + ":" + std::to_string(lineNo)));
    }
    records.push_back(std::move(*record));
  }
  return records;
}

Status writeBundle(const fs::path& dir, const Issued& issued, const Certificate& ca) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) BERTH_TRY(ensurePrivateDir(dir));
  BERTH_TRY(ca.save(dir / "ca.pem"));
  BERTH_TRY(issued.certificate.save(dir / "cert.pem"));
  return issued.key.save(dir / "key.pem");
}

}  // namespace berth::pki
