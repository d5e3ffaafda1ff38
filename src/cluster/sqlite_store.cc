// The sqlite3 C API lives here (and nowhere else). Every statement is prepared once, at open(), and
// reset after each use whatever happens, so that a failed step never leaves a statement holding a
// read lock or a bound pointer into a string that is gone.
#include "cluster/sqlite_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>

#include "base/strings.h"
#include "cluster/codec.h"

namespace berth::cluster {
namespace {

namespace fs = std::filesystem;

// How long a statement waits for a lock another connection holds (an operator's `sqlite3` shell
// reading the file, a backup) before it fails with Unavailable.
constexpr int kBusyTimeoutMs = 5000;

// ---- Schema. Migrations are applied in order, each in its own transaction that also sets
// user_version, so that a crash between two leaves a database that the next open() continues.
// Never edit a migration that has shipped: add the next one.

struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE hosts (
  name TEXT NOT NULL PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE TABLE stacks (
  name TEXT NOT NULL PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE TABLE stack_versions (
  stack TEXT NOT NULL,
  generation INTEGER NOT NULL,
  project TEXT NOT NULL,
  PRIMARY KEY (stack, generation)
);
CREATE TABLE services (
  stack TEXT NOT NULL,
  name TEXT NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (stack, name)
);
CREATE TABLE tasks (
  id TEXT NOT NULL PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE TABLE meta (
  key TEXT NOT NULL PRIMARY KEY,
  value NOT NULL
);
)sql"},
};

static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion &&
                  kMigrations[std::size(kMigrations) - 1].version == SqliteStore::kSchemaVersion,
              "kSchemaVersion is the last migration's version, and migrations are numbered from 1");

constexpr std::string_view kNextHostIndexKey = "next_host_index";

// ---- Errors

ErrorCode codeFor(int rc) {
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::Unavailable;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
      return ErrorCode::PermissionDenied;
    default:
      return ErrorCode::Internal;
  }
}

// The connection's message for its last failed call (which names the constraint or the trigger's
// RAISE text), or the code's generic text without a connection.
Error sqliteError(sqlite3* db, int rc) {
  return Error(codeFor(rc), db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// ---- RAII handles

struct CloseDb {
  // close_v2: the connection goes once its last statement is finalized, whatever the order.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

struct FinalizeStmt {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

// A prepared statement. execute() and forEachRow() bind, step and reset in one call, so that the
// values bound (by pointer: SQLITE_STATIC) outlive every step that reads them and the statement is
// reset on every path.
class Statement {
 public:
  Statement() = default;

  static Result<Statement> prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &raw, nullptr);
    StmtHandle stmt(raw);
    if (rc != SQLITE_OK)
      return fail(sqliteError(db, rc).withContext(fmt::format("prepare {}", berth::quoted(sql))));
    return Statement(db, std::move(stmt));
  }

  // Binds `args` to ?1, ?2, ... and steps until done (a statement that returns no rows).
  template <class... Args>
  Status execute(const Args&... args) {
    int i = 0;
    (bindAt(++i, args), ...);
    const Status status = stepUntilDone([](const Statement&) { return ok(); });
    reset();
    return status;
  }

  // Steps through every row, calling fn(const Statement&) -> Status for each; stops at its first
  // error.
  template <class Fn>
  Status forEachRow(Fn fn) {
    const Status status = stepUntilDone(fn);
    reset();
    return status;
  }

  // Columns of the current row (0-based). A text stays valid until the next step.
  int columnType(int col) const { return sqlite3_column_type(stmt_.get(), col); }
  std::string_view columnText(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_.get(), col);
    if (text == nullptr) return {};
    return {reinterpret_cast<const char*>(text),
            static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col))};
  }
  std::int64_t columnInt(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

 private:
  Statement(sqlite3* db, StmtHandle stmt) : db_(db), stmt_(std::move(stmt)) {}

  void bindAt(int i, std::string_view text) {
    // A null pointer binds SQL NULL; an empty string_view may carry one.
    const char* data = text.data() != nullptr ? text.data() : "";
    // nullptr is SQLITE_STATIC (the macro is an old-style cast): the caller keeps `text` alive.
    note(sqlite3_bind_text64(stmt_.get(), i, data, text.size(), nullptr, SQLITE_UTF8));
  }
  void bindAt(int i, std::int64_t value) { note(sqlite3_bind_int64(stmt_.get(), i, value)); }
  void bindAt(int i, int value) { bindAt(i, static_cast<std::int64_t>(value)); }

  // A failed bind (too big, out of memory) is reported by the step that follows it.
  void note(int rc) {
    if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
  }

  template <class Fn>
  Status stepUntilDone(Fn&& fn) {
    if (bindRc_ != SQLITE_OK) return fail(sqliteError(db_, bindRc_));
    while (true) {
      const int rc = sqlite3_step(stmt_.get());
      if (rc == SQLITE_DONE) return ok();
      if (rc != SQLITE_ROW) return fail(sqliteError(db_, rc));
      BERTH_TRY(fn(*this));
    }
  }

  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bindRc_ = SQLITE_OK;
  }

  sqlite3* db_ = nullptr;
  StmtHandle stmt_;
  int bindRc_ = SQLITE_OK;
};

// Runs SQL text that returns no rows (transaction control, pragmas that return nothing, migrations).
Status exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return ok();
  Error error(codeFor(rc), message != nullptr ? message : sqlite3_errstr(rc));
  sqlite3_free(message);
  return fail(std::move(error));
}

// After a failed statement inside a transaction. Some errors (I/O, disk full) have already rolled
// it back, and ROLLBACK without a transaction is itself an error: roll back only what is open.
void rollbackIfActive(sqlite3* db) {
  if (sqlite3_get_autocommit(db) == 0) (void)exec(db, "ROLLBACK");
}

// The result of a pragma that returns one row of one column, as text.
Result<std::string> pragmaText(sqlite3* db, const char* sql) {
  BERTH_ASSIGN_OR_RETURN(Statement stmt, Statement::prepare(db, sql));
  std::string value;
  BERTH_TRY(stmt.forEachRow([&](const Statement& row) {
    value = std::string(row.columnText(0));
    return ok();
  }));
  return value;
}

Result<int> userVersion(sqlite3* db) {
  BERTH_ASSIGN_OR_RETURN(Statement stmt, Statement::prepare(db, "PRAGMA user_version"));
  int version = 0;
  BERTH_TRY(stmt.forEachRow([&](const Statement& row) {
    version = static_cast<int>(row.columnInt(0));
    return ok();
  }));
  return version;
}

// Creates the database file 0600 if it does not exist yet: SQLite would create it with 0644 (less
// the umask), and its -wal and -shm files copy the database's mode. The directory is synced so that
// the file's name, like its content later, survives power loss.
Status createPrivateFile(const fs::path& file) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(ErrorCode::NotFound, fmt::format("directory {} does not exist", dir.string()));
  }
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ok();
    const int err = errno;
    return fail(err == EACCES || err == EPERM ? ErrorCode::PermissionDenied : ErrorCode::Internal,
                "create: " + errnoText(err));
  }
  // O_CREAT's mode is reduced by the umask; 0600 is what is meant whatever the umask.
  const bool chmodOk = ::fchmod(fd, 0600) == 0;
  const int chmodErr = errno;
  ::close(fd);
  if (!chmodOk) return fail(ErrorCode::Internal, "chmod 0600: " + errnoText(chmodErr));
  const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    // Best effort: some file systems refuse fsync on a directory, and the file is empty yet.
    (void)::fsync(dirFd);
    ::close(dirFd);
  }
  return ok();
}

// Brings the schema from `version` up to kSchemaVersion.
Status migrate(sqlite3* db, int version) {
  for (const Migration& migration : kMigrations) {
    if (migration.version <= version) continue;
    auto step = [&]() -> Status {
      BERTH_TRY(exec(db, "BEGIN IMMEDIATE"));
      // Read again under the write lock: another process may have migrated since we looked.
      BERTH_ASSIGN_OR_RETURN(const int current, userVersion(db));
      if (current >= migration.version) return exec(db, "ROLLBACK");
      BERTH_TRY(exec(db, migration.sql));
      BERTH_TRY(exec(db, fmt::format("PRAGMA user_version = {}", migration.version).c_str()));
      return exec(db, "COMMIT");
    };
    if (Status status = step(); !status) {
      rollbackIfActive(db);
      return fail(std::move(status).error().withContext(
          fmt::format("migrate to schema version {}", migration.version)));
    }
  }
  return ok();
}

}  // namespace

// ---- The connection and its statements

struct SqliteStore::Db {
  // Declared first so that it is destroyed last, after the statements.
  DbHandle conn;

  Statement deleteHost, deleteStack, deleteVersion, deleteService, deleteTask;
  Statement putHost, putStack, putVersion, putService, putTask, putNextHostIndex;
  Statement selectHosts, selectStacks, selectVersions, selectServices, selectTasks, selectNextHostIndex;

  Status prepareAll() {
    sqlite3* db = conn.get();
    const std::pair<Statement*, const char*> statements[] = {
        {&deleteHost, "DELETE FROM hosts WHERE name = ?1"},
        {&deleteStack, "DELETE FROM stacks WHERE name = ?1"},
        {&deleteVersion, "DELETE FROM stack_versions WHERE stack = ?1 AND generation = ?2"},
        {&deleteService, "DELETE FROM services WHERE stack = ?1 AND name = ?2"},
        {&deleteTask, "DELETE FROM tasks WHERE id = ?1"},
        {&putHost,
         "INSERT INTO hosts (name, json) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET json = "
         "excluded.json"},
        {&putStack,
         "INSERT INTO stacks (name, json) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET json = "
         "excluded.json"},
        {&putVersion,
         "INSERT INTO stack_versions (stack, generation, project) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (stack, generation) DO UPDATE SET project = excluded.project"},
        {&putService,
         "INSERT INTO services (stack, name, json) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (stack, name) DO UPDATE SET json = excluded.json"},
        {&putTask,
         "INSERT INTO tasks (id, json) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET json = excluded.json"},
        {&putNextHostIndex,
         "INSERT INTO meta (key, value) VALUES ('next_host_index', ?1) "
         "ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
        {&selectHosts, "SELECT name, json FROM hosts"},
        {&selectStacks, "SELECT name, json FROM stacks"},
        {&selectVersions, "SELECT stack, generation, project FROM stack_versions"},
        {&selectServices, "SELECT stack, name, json FROM services"},
        {&selectTasks, "SELECT id, json FROM tasks"},
        {&selectNextHostIndex, "SELECT value FROM meta WHERE key = 'next_host_index'"},
    };
    for (const auto& [statement, sql] : statements) {
      BERTH_ASSIGN_OR_RETURN(*statement, Statement::prepare(db, sql));
    }
    return ok();
  }

  // The writes of one change, inside the caller's transaction. Deletions first, as applyChange.
  Status write(const Change& change) {
    for (const std::string& name : change.deleteHosts) {
      BERTH_TRY(withContext(deleteHost.execute(name), "delete host", name));
    }
    for (const std::string& name : change.deleteStacks) {
      BERTH_TRY(withContext(deleteStack.execute(name), "delete stack", name));
    }
    for (const auto& [stack, generation] : change.deleteVersions) {
      BERTH_TRY(withContext(deleteVersion.execute(stack, generation), "delete stack version",
                            fmt::format("{}/{}", stack, generation)));
    }
    for (const auto& [stack, name] : change.deleteServices) {
      BERTH_TRY(withContext(deleteService.execute(stack, name), "delete service",
                            fmt::format("{}/{}", stack, name)));
    }
    for (const std::string& id : change.deleteTasks) {
      BERTH_TRY(withContext(deleteTask.execute(id), "delete task", id));
    }
    for (const Host& host : change.putHosts) {
      BERTH_TRY(withContext(putHost.execute(host.name, toJson(host)), "put host", host.name));
    }
    for (const Stack& stack : change.putStacks) {
      BERTH_TRY(withContext(putStack.execute(stack.name, toJson(stack)), "put stack", stack.name));
    }
    for (const StackVersion& version : change.putVersions) {
      BERTH_TRY(withContext(putVersion.execute(version.stack, version.generation, version.project),
                            "put stack version", fmt::format("{}/{}", version.stack, version.generation)));
    }
    for (const ServiceRecord& service : change.putServices) {
      BERTH_TRY(withContext(putService.execute(service.stack, service.name, toJson(service)), "put service",
                            fmt::format("{}/{}", service.stack, service.name)));
    }
    for (const Task& task : change.putTasks) {
      BERTH_TRY(withContext(putTask.execute(task.id, toJson(task)), "put task", task.id));
    }
    if (change.nextHostIndex) {
      BERTH_TRY(withContext(putNextHostIndex.execute(*change.nextHostIndex), "put", kNextHostIndexKey));
    }
    return ok();
  }

  Status commit(const Change& change) {
    sqlite3* db = conn.get();
    // IMMEDIATE: take the write lock now (waiting up to the busy timeout) rather than fail half-way
    // through the change when the first write finds another writer.
    BERTH_TRY(withContext(exec(db, "BEGIN IMMEDIATE"), "begin", ""));
    Status status = write(change);
    if (status) status = withContext(exec(db, "COMMIT"), "commit", "");
    if (!status) rollbackIfActive(db);
    return status;
  }

  // Every table, in one read transaction so that the tables agree with each other.
  Result<ClusterState> load() {
    sqlite3* db = conn.get();
    BERTH_TRY(withContext(exec(db, "BEGIN"), "begin", ""));
    ClusterState state;
    Status status = readAll(state);
    if (status) status = withContext(exec(db, "COMMIT"), "end read transaction", "");
    if (!status) {
      rollbackIfActive(db);
      return fail(std::move(status).error());
    }
    return state;
  }

 private:
  static Status withContext(Status status, std::string_view what, std::string_view key) {
    if (status) return status;
    return fail(std::move(status).error().withContext(key.empty() ? std::string(what)
                                                                  : fmt::format("{} {}", what, key)));
  }

  // A record stored under a key that is not its own would be loaded under one key and written back
  // under the other: damaged data, refused like undecodable JSON.
  static Status checkKey(std::string_view kind, std::string_view rowKey, std::string_view recordKey) {
    if (rowKey == recordKey) return ok();
    return fail(ErrorCode::Internal, fmt::format("{} {}: stored under {} but the record says {}", kind,
                                                 rowKey, berth::quoted(rowKey), berth::quoted(recordKey)));
  }

  template <class Fn>
  static Status readRows(Statement& select, std::string_view table, Fn fn) {
    return withContext(select.forEachRow(fn), "read", table);
  }

  Status readAll(ClusterState& state) {
    auto readHost = [&](const Statement& row) -> Status {
      BERTH_ASSIGN_OR_RETURN(Host host, hostFromJson(row.columnText(1)));
      BERTH_TRY(checkKey("host", row.columnText(0), host.name));
      state.hosts[host.name] = std::move(host);
      return ok();
    };
    auto readStack = [&](const Statement& row) -> Status {
      BERTH_ASSIGN_OR_RETURN(Stack stack, stackFromJson(row.columnText(1)));
      BERTH_TRY(checkKey("stack", row.columnText(0), stack.name));
      state.stacks[stack.name] = std::move(stack);
      return ok();
    };
    auto readVersion = [&](const Statement& row) -> Status {
      StackVersion version;
      version.stack = std::string(row.columnText(0));
      if (row.columnType(1) != SQLITE_INTEGER) {
        return fail(ErrorCode::Internal, fmt::format("stack version {}/{}: generation is not an integer",
                                                     version.stack, row.columnText(1)));
      }
      version.generation = row.columnInt(1);
      version.project = std::string(row.columnText(2));
      state.versions[{version.stack, version.generation}] = std::move(version);
      return ok();
    };
    auto readService = [&](const Statement& row) -> Status {
      BERTH_ASSIGN_OR_RETURN(ServiceRecord service, serviceFromJson(row.columnText(2)));
      BERTH_TRY(checkKey("service", fmt::format("{}/{}", row.columnText(0), row.columnText(1)),
                         fmt::format("{}/{}", service.stack, service.name)));
      state.services[{service.stack, service.name}] = std::move(service);
      return ok();
    };
    auto readTask = [&](const Statement& row) -> Status {
      BERTH_ASSIGN_OR_RETURN(Task task, taskFromJson(row.columnText(1)));
      BERTH_TRY(checkKey("task", row.columnText(0), task.id));
      state.tasks[task.id] = std::move(task);
      return ok();
    };
    auto readNextHostIndex = [&](const Statement& row) -> Status {
      const std::int64_t value = row.columnInt(0);
      if (row.columnType(0) != SQLITE_INTEGER || value < 1 || value > std::numeric_limits<int>::max()) {
        return fail(ErrorCode::Internal, fmt::format("{} is {}, not a positive integer", kNextHostIndexKey,
                                                     berth::quoted(row.columnText(0))));
      }
      state.nextHostIndex = static_cast<int>(value);
      return ok();
    };
    BERTH_TRY(readRows(selectHosts, "hosts", readHost));
    BERTH_TRY(readRows(selectStacks, "stacks", readStack));
    BERTH_TRY(readRows(selectVersions, "stack_versions", readVersion));
    BERTH_TRY(readRows(selectServices, "services", readService));
    BERTH_TRY(readRows(selectTasks, "tasks", readTask));
    BERTH_TRY(readRows(selectNextHostIndex, "meta", readNextHostIndex));
    return ok();
  }
};

// ---- SqliteStore

SqliteStore::SqliteStore(fs::path file, std::unique_ptr<Db> db)
    : file_(std::move(file)), db_(std::move(db)) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const fs::path& file) {
  const std::string where = "state database " + file.string();
  auto failed = [&](Error error, std::string_view doing = {}) {
    if (!doing.empty()) error = std::move(error).withContext(doing);
    return fail(std::move(error).withContext(where));
  };

  if (Status created = createPrivateFile(file); !created) return failed(std::move(created).error());

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, nullptr);
  auto db = std::make_unique<Db>();
  db->conn.reset(raw);  // even a failed open returns a handle to close
  if (rc != SQLITE_OK) {
    Error error = sqliteError(raw, rc);
    // "unable to open database file" alone does not say why; the system's error does.
    if (const int err = raw != nullptr ? sqlite3_system_errno(raw) : 0;
        (rc & 0xff) == SQLITE_CANTOPEN && err != 0) {
      error = Error(err == EACCES || err == EPERM ? ErrorCode::PermissionDenied : ErrorCode::Internal,
                    fmt::format("{} ({})", error.message(), errnoText(err)));
    }
    return failed(std::move(error), "open");
  }
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);

  // Before anything writes to the file: a newer berthd's database is left exactly as it is.
  Result<int> version = userVersion(raw);
  if (!version) return failed(std::move(version).error(), "read schema version");
  if (*version > kSchemaVersion) {
    return fail(ErrorCode::Conflict,
                fmt::format("{} has schema version {}; this berthd knows up to {}: upgrade berthd", where,
                            *version, kSchemaVersion));
  }

  // WAL with synchronous=FULL: every commit is synced to the log before it returns (durable across
  // power loss), and readers (an operator's sqlite3 shell) do not block the writer. journal_mode
  // answers the mode in force: on a file system without shared memory WAL is refused silently.
  Result<std::string> mode = pragmaText(raw, "PRAGMA journal_mode = WAL");
  if (!mode) return failed(std::move(mode).error(), "enable WAL journal mode");
  if (*mode != "wal") {
    return fail(ErrorCode::Internal,
                fmt::format("{}: cannot use WAL journal mode (the database stays in {} mode)", where,
                            berth::quoted(*mode)));
  }
  // Per connection, not stored in the file: set at every open.
  if (Status s = exec(raw, "PRAGMA synchronous = FULL"); !s)
    return failed(std::move(s).error(), "set synchronous");
  if (Status s = exec(raw, "PRAGMA foreign_keys = ON"); !s)
    return failed(std::move(s).error(), "set foreign_keys");
  // The controller reads the whole state once, at start, and then only writes: a page cache of
  // 128 KiB (not SQLite's default 2 MiB) costs nothing in speed (the pages a commit touches are in
  // the kernel's cache) and counts in berthd's memory.
  if (Status s = exec(raw, "PRAGMA cache_size = -128"); !s) return failed(std::move(s).error(), "set cache_size");

  if (Status s = migrate(raw, *version); !s) return failed(std::move(s).error());
  if (Status s = db->prepareAll(); !s) return failed(std::move(s).error());
  return std::unique_ptr<SqliteStore>(new SqliteStore(file, std::move(db)));
}

std::string SqliteStore::describe() const { return "sqlite " + file_.string(); }

Result<ClusterState> SqliteStore::load() {
  Result<ClusterState> state = db_->load();
  if (!state)
    return fail(std::move(state).error().withContext(fmt::format("state database {}: load", file_.string())));
  return state;
}

Status SqliteStore::commit(const Change& change) {
  if (change.empty()) return ok();
  Status status = db_->commit(change);
  if (!status)
    return fail(
        std::move(status).error().withContext(fmt::format("state database {}: commit", file_.string())));
  return ok();
}

}  // namespace berth::cluster
