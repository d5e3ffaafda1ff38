// SqliteStore: berthd's Store (store.h) in one SQLite database file, the default for a single
// controller.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so commit() returns only once the
// change is in the write-ahead log on disk: a committed change survives SIGKILL and power loss, and
// a change whose commit() did not return survives entirely or not at all.
//
// Layout: one table per record kind, keyed as ClusterState is (hosts, stacks, stack_versions,
// services, tasks); each row holds the record's JSON (cluster/codec.h), except stack_versions which
// holds the project text in a column of its own; `meta` holds next_host_index. The schema's version
// is the database's `PRAGMA user_version`; open() brings an older database up to date through the
// ordered migrations in sqlite_store.cc and refuses one written by a newer berthd.
//
// Errors name the file: "state database /var/lib/berthd/state.db: commit: put task abc: disk I/O
// error". Codes: Unavailable when the database is locked by another process for longer than the
// busy timeout, PermissionDenied when the file cannot be opened for lack of permission, Conflict for
// a schema newer than this build, Internal for everything else (damaged data included).
//
// Thread-safety: none. One thread (the controller's owner thread) uses a SqliteStore, as store.h
// says of every Store.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"
#include "cluster/store.h"

namespace berth::cluster {

class SqliteStore final : public Store {
 public:
  // The newest schema version this build knows (and creates).
  static constexpr int kSchemaVersion = 1;

  // Opens the database at `file`, creating it (mode 0600) if it does not exist; its directory must.
  // Applies the migrations a database older than kSchemaVersion lacks, each in its own transaction.
  // Blocks on disk I/O (and for up to the busy timeout when another process holds the database).
  // Errors: NotFound when the directory does not exist; Conflict for a newer schema ("state database
  // X has schema version 3; this berthd knows up to 1: upgrade berthd"); Internal when the file is
  // not an SQLite database or WAL mode cannot be enabled (e.g. on a network file system).
  static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& file);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Reads every table in one read transaction (a consistent snapshot). A record whose JSON cannot be
  // decoded, or that is stored under a key other than its own, is Internal naming the record.
  Result<ClusterState> load() override;
  // Applies `change` in one IMMEDIATE transaction: deletions first, then puts (as applyChange
  // does), then next_host_index. On any error the transaction is rolled back and nothing of
  // `change` is stored. An empty change touches nothing. Blocks until the change is durable.
  Status commit(const Change& change) override;
  // "sqlite /var/lib/berthd/state.db"
  std::string describe() const override;

 private:
  struct Db;  // the connection and its prepared statements; keeps sqlite3.h out of this header
  SqliteStore(std::filesystem::path file, std::unique_ptr<Db> db);

  std::filesystem::path file_;
  std::unique_ptr<Db> db_;
};

}  // namespace berth::cluster
