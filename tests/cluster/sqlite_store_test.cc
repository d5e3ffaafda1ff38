// SqliteStore against a real database file in a temporary directory: what is committed is what a
// later open() loads (the same as applyChange gives), a failed commit stores nothing, a newer schema
// is refused, and the file is private and in WAL mode. FakeStore is held to the same applyChange
// behaviour at the end.
#include "cluster/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>

#include "fakes/fake_store.h"

namespace berth::cluster {
namespace {

namespace fs = std::filesystem;

WallTime at(std::int64_t nanos) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos)));
}

Host host(const std::string& name, int index) {
  return Host{.name = name,
              .id = "0123456789a" + std::to_string(index),
              .index = index,
              .url = "tcp://10.0.0." + std::to_string(index) + ":2376",
              .labels = {{"zone", "eu"}},
              .availability = Availability::Active,
              .facts = {.hostname = name, .engineVersion = "24.0.7", .ncpu = 4, .memoryBytes = 8LL << 30},
              .addedAt = at(1714557600123456789)};
}

Stack stack(const std::string& name, std::int64_t generation) {
  return Stack{.name = name,
               .generation = generation,
               .createdAt = at(1714557600000000001),
               .updatedAt = at(1714557600000000002)};
}

StackVersion version(const std::string& stackName, std::int64_t generation) {
  return StackVersion{
      .stack = stackName,
      .generation = generation,
      .project = "name: " + stackName + "\n# generation " + std::to_string(generation) + "\n"};
}

ServiceRecord service(const std::string& stackName, const std::string& name, std::int64_t generation) {
  return ServiceRecord{.stack = stackName,
                       .name = name,
                       .specGeneration = generation,
                       .replicas = 3,
                       .updateState = UpdateState::Completed,
                       .updateStartedAt = at(1714557600000000003)};
}

Task task(const std::string& id, const std::string& hostName, TaskState state = TaskState::Running) {
  return Task{.id = id,
              .stack = "web",
              .service = "api",
              .slot = 1,
              .host = hostName,
              .state = state,
              .exitCode = state == TaskState::Failed ? std::optional<int>(2) : std::nullopt,
              .containerId = "c-" + id,
              .specGeneration = 1,
              .createdAt = at(1714557600000000004),
              .stateSince = at(1714557600000000005)};
}

// A change that touches every table.
Change everything() {
  Change change;
  change.putHosts = {host("h1", 1), host("h2", 2)};
  change.putStacks = {stack("web", 2), stack("db", 1)};
  change.putVersions = {version("web", 1), version("web", 2), version("db", 1)};
  change.putServices = {service("web", "api", 2), service("web", "worker", 1), service("db", "pg", 1)};
  change.putTasks = {task("aaaaaaaaaaa1", "h1"), task("aaaaaaaaaaa2", "h2", TaskState::Failed)};
  change.nextHostIndex = 3;
  return change;
}

void expectSameState(const ClusterState& actual, const ClusterState& expected) {
  EXPECT_EQ(actual.hosts, expected.hosts);
  EXPECT_EQ(actual.stacks, expected.stacks);
  EXPECT_EQ(actual.versions, expected.versions);
  EXPECT_EQ(actual.services, expected.services);
  EXPECT_EQ(actual.tasks, expected.tasks);
  EXPECT_EQ(actual.nextHostIndex, expected.nextHostIndex);
}

// A second connection to the file, as an operator's sqlite3 shell would have: to look at what the
// store wrote and to damage it.
class RawDb {
 public:
  explicit RawDb(const fs::path& file) {
    EXPECT_EQ(sqlite3_open(file.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << sql << ": " << (message != nullptr ? message : "");
    sqlite3_free(message);
  }

  // The first column of the first row, as text ("" without a row).
  std::string query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string value;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (text != nullptr) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(stmt);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "berth-store-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = dir_ / "state.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteStore> openOrDie() {
    auto store = SqliteStore::open(file_);
    EXPECT_TRUE(store) << store.error().message();
    return store ? std::move(*store) : nullptr;
  }

  ClusterState loadOrDie(Store& store) {
    auto state = store.load();
    EXPECT_TRUE(state) << state.error().message();
    return state ? std::move(*state) : ClusterState{};
  }

  fs::path dir_;
  fs::path file_;
};

TEST_F(SqliteStoreTest, ANewDatabaseLoadsEmpty) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->describe(), "sqlite " + file_.string());
  expectSameState(loadOrDie(*store), ClusterState{});
  EXPECT_EQ(loadOrDie(*store).nextHostIndex, 1);
}

TEST_F(SqliteStoreTest, WhatIsCommittedIsLoadedAfterReopening) {
  ClusterState expected;
  {
    auto store = openOrDie();
    ASSERT_NE(store, nullptr);
    const Change first = everything();
    ASSERT_TRUE(store->commit(first));
    applyChange(expected, first);
    expectSameState(loadOrDie(*store), expected);

    Change second;
    second.deleteHosts = {"h2"};
    second.deleteStacks = {"db"};
    second.deleteVersions = {{"db", 1}, {"web", 1}};
    second.deleteServices = {{"db", "pg"}};
    second.deleteTasks = {"aaaaaaaaaaa2"};
    Task moved = task("aaaaaaaaaaa1", "h1", TaskState::Shutdown);
    moved.desired = DesiredState::Shutdown;
    second.putTasks = {moved, task("aaaaaaaaaaa3", "h1")};
    ServiceRecord updated = service("web", "api", 2);
    updated.updateState = UpdateState::Updating;
    second.putServices = {updated};
    second.nextHostIndex = 4;
    ASSERT_TRUE(store->commit(second));
    applyChange(expected, second);
  }
  auto reopened = openOrDie();
  ASSERT_NE(reopened, nullptr);
  const ClusterState loaded = loadOrDie(*reopened);
  expectSameState(loaded, expected);
  EXPECT_EQ(loaded.hosts.size(), 1u);
  EXPECT_EQ(loaded.tasks.size(), 2u);
  EXPECT_EQ(loaded.nextHostIndex, 4);
}

// As applyChange: deletions first, so a change that deletes and re-creates a key leaves it present
// (with the new value), and deleting what is not there is no error.
TEST_F(SqliteStoreTest, DeletesComeBeforePutsOfTheSameKey) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  ClusterState expected;
  const Change first = everything();
  ASSERT_TRUE(store->commit(first));
  applyChange(expected, first);

  Change change;
  Host h1 = host("h1", 1);
  h1.availability = Availability::Drain;
  change.putHosts = {h1};
  change.deleteHosts = {"h1", "no-such-host"};
  StackVersion v2 = version("web", 2);
  v2.project = "name: web\n# rewritten\n";
  change.putVersions = {v2};
  change.deleteVersions = {{"web", 2}};
  change.putServices = {service("web", "api", 5)};
  change.deleteServices = {{"web", "api"}};
  change.putTasks = {task("aaaaaaaaaaa1", "h2")};
  change.deleteTasks = {"aaaaaaaaaaa1"};
  change.putStacks = {stack("web", 9)};
  change.deleteStacks = {"web"};
  ASSERT_TRUE(store->commit(change));
  applyChange(expected, change);

  const ClusterState loaded = loadOrDie(*store);
  expectSameState(loaded, expected);
  EXPECT_EQ(loaded.hosts.at("h1").availability, Availability::Drain);
  EXPECT_EQ(loaded.versions.at({"web", 2}).project, "name: web\n# rewritten\n");
  EXPECT_EQ(loaded.stacks.at("web").generation, 9);
}

TEST_F(SqliteStoreTest, AFailedCommitStoresNothingOfTheChange) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  ClusterState before;
  const Change first = everything();
  ASSERT_TRUE(store->commit(first));
  applyChange(before, first);

  // A trigger that fails the change half-way: after its deletions and its first puts.
  RawDb raw(file_);
  raw.exec(
      "CREATE TRIGGER hostile BEFORE INSERT ON tasks WHEN NEW.id = 'bad' "
      "BEGIN SELECT RAISE(ABORT, 'hostile trigger'); END");

  Change change;
  change.deleteHosts = {"h1"};
  change.deleteVersions = {{"web", 1}};
  change.putStacks = {stack("cache", 1)};
  change.putTasks = {task("aaaaaaaaaaa9", "h2"), task("bad", "h2")};
  change.nextHostIndex = 9;
  const Status status = store->commit(change);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::Internal);
  EXPECT_EQ(status.error().message(),
            "state database " + file_.string() + ": commit: put task bad: hostile trigger");

  expectSameState(loadOrDie(*store), before);
  store.reset();
  store = openOrDie();
  ASSERT_NE(store, nullptr);
  expectSameState(loadOrDie(*store), before);

  // The connection is not left inside the failed transaction: the next commit goes through.
  raw.exec("DROP TRIGGER hostile");
  ASSERT_TRUE(store->commit(change));
  applyChange(before, change);
  expectSameState(loadOrDie(*store), before);
}

TEST_F(SqliteStoreTest, AnEmptyChangeIsNoCommit) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(Change{}));
  expectSameState(loadOrDie(*store), ClusterState{});
}

TEST_F(SqliteStoreTest, RefusesADatabaseOfANewerBerthd) {
  {
    RawDb raw(file_);
    raw.exec("CREATE TABLE future (x); PRAGMA user_version = 3");
  }
  auto store = SqliteStore::open(file_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::Conflict);
  EXPECT_EQ(store.error().message(), "state database " + file_.string() +
                                         " has schema version 3; this berthd knows up to 1: upgrade berthd");
  // Left as it was: neither migrated nor switched to WAL.
  RawDb raw(file_);
  EXPECT_EQ(raw.query("PRAGMA user_version"), "3");
  EXPECT_EQ(raw.query("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.query("SELECT count(*) FROM sqlite_master WHERE name = 'tasks'"), "0");
}

TEST_F(SqliteStoreTest, CreatesTheSchemaInWalMode) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  RawDb raw(file_);
  EXPECT_EQ(raw.query("PRAGMA user_version"), std::to_string(SqliteStore::kSchemaVersion));
  EXPECT_EQ(raw.query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(
      raw.query("SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' "
                "ORDER BY name)"),
      "hosts meta services stack_versions stacks tasks");
}

TEST_F(SqliteStoreTest, TheDatabaseAndItsLogArePrivate) {
  const mode_t oldMask = ::umask(022);  // SQLite alone would create 0644 under this umask
  auto store = openOrDie();
  ::umask(oldMask);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(everything()));
  for (const fs::path& path : {file_, fs::path(file_.string() + "-wal")}) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
}

// What a crash right after open() created the file leaves: an empty file, which is a new database.
TEST_F(SqliteStoreTest, AnEmptyFileIsANewDatabase) {
  std::ofstream{file_};
  ASSERT_TRUE(fs::exists(file_));
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(everything()));
  EXPECT_EQ(loadOrDie(*store).hosts.size(), 2u);
}

TEST_F(SqliteStoreTest, AMissingDirectoryIsNotFound) {
  const fs::path file = dir_ / "no-such-dir" / "state.db";
  auto store = SqliteStore::open(file);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(store.error().message(), "state database " + file.string() + ": directory " +
                                         (dir_ / "no-such-dir").string() + " does not exist");
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsRefused) {
  std::ofstream(file_) << std::string(4096, 'x');
  auto store = SqliteStore::open(file_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::Internal);
  EXPECT_EQ(store.error().message(),
            "state database " + file_.string() + ": read schema version: file is not a database");
}

TEST_F(SqliteStoreTest, ADamagedRecordIsNamed) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  RawDb raw(file_);
  raw.exec(R"(INSERT INTO tasks (id, json) VALUES ('abc123', '{"id":"abc123","state":"bogus"}'))");
  auto state = store->load();
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code(), ErrorCode::Internal);
  EXPECT_EQ(state.error().message(),
            "state database " + file_.string() +
                R"(: load: read tasks: task abc123: field "state": unknown value "bogus")");
}

TEST_F(SqliteStoreTest, ARecordUnderAnotherKeyIsDamage) {
  auto store = openOrDie();
  ASSERT_NE(store, nullptr);
  RawDb raw(file_);
  raw.exec(R"(INSERT INTO hosts (name, json) VALUES ('h1', '{"name":"h2"}'))");
  auto state = store->load();
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().message(),
            "state database " + file_.string() +
                R"(: load: read hosts: host h1: stored under "h1" but the record says "h2")");
}

// ---- FakeStore: the same applyChange semantics in memory, with a log and faults.

TEST(FakeStoreTest, AppliesCommitsAndLogsThem) {
  fakes::FakeStore store;
  ClusterState expected;
  const Change first = everything();
  ASSERT_TRUE(store.commit(first));
  applyChange(expected, first);
  Change second;
  second.deleteHosts = {"h1"};
  second.putHosts = {host("h1", 5)};
  ASSERT_TRUE(store.commit(second));
  applyChange(expected, second);

  expectSameState(store.state(), expected);
  auto loaded = store.load();
  ASSERT_TRUE(loaded);
  expectSameState(*loaded, expected);
  EXPECT_EQ(store.commits(), 2);
  EXPECT_EQ(store.commitCalls(), 2);
  EXPECT_EQ(store.loads(), 1);
  ASSERT_TRUE(store.lastChange());
  EXPECT_EQ(store.lastChange()->putHosts, second.putHosts);
  EXPECT_EQ(store.committed().at(0).putTasks, first.putTasks);
  EXPECT_EQ(store.describe(), "fake store");
}

TEST(FakeStoreTest, FailNextCommitFailsOnceAndAppliesNothing) {
  fakes::FakeStore store;
  store.failNextCommit(Error(ErrorCode::Unavailable, "disk full"));
  const Status failed = store.commit(everything());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), Error(ErrorCode::Unavailable, "disk full"));
  expectSameState(store.state(), ClusterState{});
  EXPECT_EQ(store.commitCalls(), 1);
  EXPECT_EQ(store.commits(), 0);
  ASSERT_TRUE(store.lastChange());  // the change it was asked to commit
  EXPECT_EQ(store.lastChange()->putHosts.size(), 2u);

  ASSERT_TRUE(store.commit(everything()));
  EXPECT_EQ(store.commits(), 1);
  EXPECT_EQ(store.state().hosts.size(), 2u);
}

TEST(FakeStoreTest, FailNextLoad) {
  ClusterState initial;
  initial.nextHostIndex = 7;
  fakes::FakeStore store(initial);
  store.failNextLoad(Error(ErrorCode::Internal, "task x: damaged"));
  auto failed = store.load();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "task x: damaged");
  auto loaded = store.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->nextHostIndex, 7);
}

}  // namespace
}  // namespace berth::cluster
