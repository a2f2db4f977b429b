#pragma once
// AtomicFile: write a file so that readers see either the old complete file or the new complete file,
// never a torn mixture, even if the process is killed or the machine loses power mid-write.
//
// The recipe (POSIX):
//   1. write everything to `<target>.tmp.<pid>` in the target's own directory (rename is only atomic
//      within one file system);
//   2. fsync the temp file, so its data is on disk before its name is;
//   3. rename it over the target: the atomic step;
//   4. fsync the directory, so the rename itself survives a power cut.
// If anything fails, or the AtomicFile is destroyed without commit(), the temp file is removed and the
// target is untouched. A process killed outright (SIGKILL, power loss) can leave `<target>.tmp.<pid>`
// behind; it never has the target's name, so nothing mistakes it for the real file. Two threads of one
// process must not write the same target at the same time (they would share the temp name).
//
// Testing the crash guarantees: a test sets SKINNET_TEST_KILL_AT=<phase> in a forked child, which then
// SIGKILLs itself at that point of the write (see test_kill_point). Phases, in order:
//   after_open      temp file created, nothing written
//   after_header    (written by the format's writer, e.g. safetensors: header written, no data)
//   mid_data        (format writer: about half of the data written)
//   before_fsync    everything written, not yet synced
//   before_rename   synced, not yet renamed: the target still holds the old file
//   after_rename    renamed, directory not yet synced: the target holds the new file
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "skinnet/core/error.hpp"

namespace skinnet::io {

// Test hook: when the environment variable SKINNET_TEST_KILL_AT equals `phase`, the process kills
// itself with SIGKILL right here, exactly as an out-of-memory killer or a power cut would stop it (no
// destructors, no atexit handlers, no buffered output flushed). Costs one getenv per call otherwise.
inline void test_kill_point(const char* phase) {
  const char* want = std::getenv("SKINNET_TEST_KILL_AT");
  if (want != nullptr && std::strcmp(want, phase) == 0) ::kill(::getpid(), SIGKILL);
}

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
    SKN_REQUIRE(!target_.empty() && target_.has_filename(), IoError, "cannot write '", target_.string(),
                "': not a file name");
    temp_ = target_;
    temp_ += ".tmp." + std::to_string(::getpid());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create temporary file '" + temp_.string() + "'");
    test_kill_point("after_open");
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());  // best effort: the target is untouched either way
  }

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  uint64_t bytes_written() const { return written_; }

  // Appends n bytes; write(2) may write less than asked (or be interrupted), so loop.
  void write(const void* data, std::size_t n) {
    SKN_REQUIRE(fd_ >= 0 && !committed_, IoError, "write to '", target_.string(), "' after commit");
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t k = ::write(fd_, p, n);
      if (k < 0) {
        if (errno == EINTR) continue;
        fail("cannot write to '" + temp_.string() + "'");
      }
      p += k;
      n -= static_cast<std::size_t>(k);
      written_ += static_cast<uint64_t>(k);
    }
  }

  // Makes the new contents durable and visible under the target name (steps 2-4 above).
  void commit() {
    SKN_REQUIRE(fd_ >= 0 && !committed_, IoError, "'", target_.string(), "' committed twice");
    test_kill_point("before_fsync");
    if (::fsync(fd_) != 0) fail("cannot fsync '" + temp_.string() + "'");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close '" + temp_.string() + "'");
    test_kill_point("before_rename");
    if (::rename(temp_.c_str(), target_.c_str()) != 0)
      fail("cannot rename '" + temp_.string() + "' to '" + target_.string() + "'");
    committed_ = true;
    test_kill_point("after_rename");
    sync_directory();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(what + ": " + std::strerror(errno));
  }

  // Some file systems refuse fsync on a directory (EINVAL); the rename has happened regardless, so
  // only real I/O errors are reported.
  void sync_directory() const {
    std::filesystem::path dir = target_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0 && err == EIO) {
      errno = err;
      fail("cannot fsync directory '" + dir.string() + "' after writing '" + target_.string() + "'");
    }
  }

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
};

}  // namespace skinnet::io
