#include "replication/scanner.h"

#include <chrono>

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <set>

#include "common/fs.h"
#include "common/printable.h"
#include "objectstore/sigv4.h"

namespace aha::replication {

namespace {

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}
int64_t CtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
}

bool ValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (n == 9 || i + n >= s.size() + (n == 0 ? 1 : 0)) {
      if (n != 0) return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

struct EvpDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Reads the whole descriptor from offset 0, hashing it.
Result<std::string> HashFd(int fd, uint64_t* bytes, std::string* keep = nullptr) {
  std::unique_ptr<EVP_MD_CTX, EvpDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Err("EVP init");
  std::string buf(1 << 16, '\0');
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(ErrnoText(errno));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    if (keep) keep->append(buf.data(), static_cast<size_t>(n));
    off += n;
  }
  unsigned char md[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  *bytes = static_cast<uint64_t>(off);
  return objectstore::sigv4::Hex(std::string_view(reinterpret_cast<char*>(md), len));
}

class Walker {
 public:
  Walker(std::string root, HashCache* cache, const ScanOptions& opts)
      : root_(std::move(root)), old_cache_(*cache), cache_(cache), opts_(opts) {}

  Result<Capture> Run() {
    cache_->clear();
    if (Status s = Walk(root_, "", nullptr); !s) return s.error();
    std::sort(out_.files.begin(), out_.files.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    std::sort(out_.symlinks.begin(), out_.symlinks.end(),
              [](const SymlinkEntry& a, const SymlinkEntry& b) { return a.path < b.path; });
    return std::move(out_);
  }

 private:
  // Lists a directory: (name, d_type) pairs, sorted.
  Result<std::vector<std::pair<std::string, struct stat>>> List(const std::string& abs) {
    std::vector<std::pair<std::string, struct stat>> out;
    DIR* d = ::opendir(abs.c_str());
    if (!d) {
      if (errno == ENOENT) return out;
      return Err("cannot list " + abs + ": " + ErrnoText(errno));
    }
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
      out.emplace_back(std::move(n), st);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

  // A name that is not valid UTF-8 cannot be written into a record (JSON) as it is: refuse the
  // capture, loudly, rather than ship a snapshot that silently lacks the file.
  static Status BadName(const std::string& rel) {
    return Err("\"" + Printable(rel) +
                   "\": file name is not valid UTF-8; a snapshot record cannot hold it, so no "
                   "snapshot is taken until it is renamed",
               kBadNameCode);
  }

  static std::string Join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "/" + b;
  }

  bool Excluded(const std::string& abs) const {
    return std::find(opts_.exclude.begin(), opts_.exclude.end(), abs) != opts_.exclude.end();
  }

  // Captures one file; `vanished` set when it disappeared (not an error).
  Status CaptureFile(const std::string& abs, const std::string& rel, const struct stat& st,
                     std::vector<FileEntry>* into, bool* vanished) {
    if (!ValidUtf8(rel)) return BadName(rel);
    auto it = old_cache_.find(rel);
    if (it != old_cache_.end() && it->second.size == static_cast<uint64_t>(st.st_size) &&
        it->second.mtime_ns == MtimeNs(st) && it->second.ino == st.st_ino) {
      FileEntry e{rel, it->second.sha256, static_cast<uint64_t>(st.st_size),
                  static_cast<uint32_t>(st.st_mode & 07777), MtimeNs(st)};
      (*cache_)[rel] = it->second;
      ++out_.stats.cache_hits;
      Add(e, into);
      return Status::Ok();
    }
    // Racily-clean guard (as git does for its index): a file modified within the filesystem's
    // timestamp granularity of the moment we hash it could change again without its
    // (size, mtime, inode) changing, so such a hash is used for this capture but not cached.
    const int64_t hash_start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    const bool may_pin = pinned_bytes_ < opts_.pin_budget;
    auto h = HashFile(abs, rel, opts_,
                      may_pin ? std::min(opts_.pin_max_file, opts_.pin_budget - pinned_bytes_) : 0);
    if (!h) {
      if (h.code() == Code::kNotFound) {
        if (vanished) *vanished = true;
        return Status::Ok();
      }
      return h.error();
    }
    out_.stats.hashed_files++;
    out_.stats.hashed_bytes += h->entry.size;
    out_.stats.torn_retries += static_cast<uint64_t>(h->attempts - 1);
    constexpr int64_t kRacyWindowNs = 50'000'000;  // > coarse-clock tick of local filesystems
    if (h->entry.mtime_ns < hash_start_ns - kRacyWindowNs) {
      (*cache_)[rel] = CacheEntry{h->entry.size, h->entry.mtime_ns, h->ino, h->entry.sha256};
    }
    if (h->has_content && h->entry.mtime_ns >= hash_start_ns - opts_.pin_recent.count() &&
        !out_.pinned.count(h->entry.sha256)) {
      pinned_bytes_ += h->content.size();
      out_.stats.pinned_files++;
      out_.stats.pinned_bytes += h->content.size();
      out_.pinned.emplace(h->entry.sha256, std::move(h->content));
    }
    Add(h->entry, into);
    return Status::Ok();
  }

  // Captures one symlink as a link (its text, never followed); vanished or replaced: skipped.
  Status CaptureSymlink(const std::string& abs, const std::string& rel, const struct stat& st) {
    if (!ValidUtf8(rel)) return BadName(rel);
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 0) + 1, '\0');
    for (;;) {
      const ssize_t n = ::readlink(abs.c_str(), target.data(), target.size());
      if (n < 0) {
        if (errno == ENOENT || errno == EINVAL) return Status::Ok();  // vanished or replaced
        return Err("cannot read the symlink " + rel + ": " + ErrnoText(errno));
      }
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      if (target.size() > (1u << 16)) return Err("symlink " + rel + ": target too long");
      target.resize(target.size() * 2);
    }
    out_.symlinks.push_back(SymlinkEntry{rel, std::move(target), MtimeNs(st)});
    out_.stats.symlinks++;
    return Status::Ok();
  }

  void Add(const FileEntry& e, std::vector<FileEntry>* into) {
    if (into) {
      into->push_back(e);
    } else {
      out_.files.push_back(e);
      out_.stats.files++;
      out_.stats.bytes += e.size;
    }
  }

  // Generic recursive walk. `into` non-null: collecting a dataset's non-manifest files.
  Status Walk(const std::string& abs, const std::string& rel, std::vector<FileEntry>* into,
              bool* vanished = nullptr) {
    auto entries = List(abs);
    if (!entries) return entries.error();
    for (auto& [name, st] : *entries) {
      // Inside a dataset, dot-files are a writer's temporaries (renamed into place on commit);
      // Lance never references them.
      if (into && name.front() == '.') continue;
      const std::string cabs = abs + "/" + name;
      const std::string crel = Join(rel, name);
      if (S_ISDIR(st.st_mode)) {
        if (Excluded(cabs)) continue;
        if (!ValidUtf8(crel)) return BadName(crel);
        if (!into && name.size() > 6 && name.ends_with(".lance")) {
          if (Status s = Dataset(cabs, crel); !s) return s;
        } else {
          if (Status s = Walk(cabs, crel, into, vanished); !s) return s;
        }
      } else if (S_ISREG(st.st_mode)) {
        if (Status s = CaptureFile(cabs, crel, st, into, vanished); !s) return s;
      } else if (S_ISLNK(st.st_mode)) {
        if (Excluded(cabs)) continue;
        if (Status s = CaptureSymlink(cabs, crel, st); !s) return s;
      } else {
        ++out_.stats.skipped;
      }
    }
    return Status::Ok();
  }

  Status Dataset(const std::string& abs, const std::string& rel) {
    for (int attempt = 1;; ++attempt) {
      // 1. Fix the set of committed versions.
      auto versions = List(abs + "/_versions");
      if (!versions) return versions.error();
      std::vector<std::string> manifests;
      for (auto& [name, st] : *versions) {
        if (S_ISREG(st.st_mode) && name.ends_with(".manifest")) manifests.push_back(name);
      }
      // 2. Everything else (data, deletions, indices, transactions).
      std::vector<FileEntry> files;
      const size_t links_mark = out_.symlinks.size();  // a retry captures the links again
      bool vanished = false;
      auto top = List(abs);
      if (!top) return top.error();
      for (auto& [name, st] : *top) {
        const std::string cabs = abs + "/" + name;
        const std::string crel = rel + "/" + name;
        if (name == "_versions" || name == "_latest.manifest" || name.front() == '.') continue;
        if (S_ISDIR(st.st_mode)) {
          if (Status s = Walk(cabs, crel, &files, &vanished); !s) return s;
        } else if (S_ISREG(st.st_mode)) {
          if (Status s = CaptureFile(cabs, crel, st, &files, &vanished); !s) return s;
        } else if (S_ISLNK(st.st_mode)) {
          if (Status s = CaptureSymlink(cabs, crel, st); !s) return s;
        } else {
          ++out_.stats.skipped;
        }
      }
      if (vanished && attempt < opts_.max_dataset_attempts) {
        out_.stats.symlinks -= out_.symlinks.size() - links_mark;
        out_.symlinks.resize(links_mark);
        ++out_.stats.dataset_retries;
        continue;
      }
      if (vanished) {
        return Err("dataset " + rel +
                   ": files keep disappearing during capture (cleanup running?)");
      }
      // 3. The manifests of the fixed set, last.
      DatasetInfo info{rel, {}, attempt};
      std::set<std::string> manifest_shas;
      for (const auto& m : manifests) {
        struct stat st {};
        const std::string mabs = abs + "/_versions/" + m;
        if (::lstat(mabs.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // cleaned up
        bool gone = false;
        const size_t before = files.size();
        if (Status s = CaptureFile(mabs, rel + "/_versions/" + m, st, &files, &gone); !s) return s;
        if (files.size() > before) {
          info.versions.push_back(m);
          manifest_shas.insert(files.back().sha256);
        }
      }
      // 4. _latest.manifest only when it is one of the captured versions.
      struct stat lst {};
      const std::string labs = abs + "/_latest.manifest";
      if (::lstat(labs.c_str(), &lst) == 0 && S_ISREG(lst.st_mode)) {
        std::vector<FileEntry> one;
        if (Status s = CaptureFile(labs, rel + "/_latest.manifest", lst, &one, nullptr); !s) {
          return s;
        }
        if (!one.empty() && manifest_shas.count(one[0].sha256)) files.push_back(one[0]);
      }
      for (auto& f : files)
        Add(f, nullptr);
      out_.datasets.push_back(std::move(info));
      return Status::Ok();
    }
  }

  std::string root_;
  HashCache old_cache_;
  HashCache* cache_;
  const ScanOptions& opts_;
  Capture out_;
  uint64_t pinned_bytes_ = 0;
};

}  // namespace

Result<HashedFile> HashFile(const std::string& abs, const std::string& rel, const ScanOptions& opts,
                            uint64_t keep_max) {
  for (int attempt = 1; attempt <= opts.max_read_attempts; ++attempt) {
    int fd = ::open(abs.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Err(rel + ": vanished", Code::kNotFound);
      return Err("cannot open " + rel + ": " + ErrnoText(errno));
    }
    struct stat before {
    }, after{};
    ::fstat(fd, &before);
    uint64_t n = 0;
    std::string content;
    const bool keep = keep_max > 0 && static_cast<uint64_t>(before.st_size) <= keep_max;
    auto sha = HashFd(fd, &n, keep ? &content : nullptr);
    if (opts.after_read) opts.after_read(rel, attempt);
    ::fstat(fd, &after);
    ::close(fd);
    if (!sha) return Err("cannot read " + rel + ": " + sha.message());
    const bool stable = before.st_size == after.st_size && MtimeNs(before) == MtimeNs(after) &&
                        CtimeNs(before) == CtimeNs(after) &&
                        n == static_cast<uint64_t>(after.st_size);
    if (stable) {
      HashedFile h;
      h.entry =
          FileEntry{rel, *sha, n, static_cast<uint32_t>(after.st_mode & 07777), MtimeNs(after)};
      h.ino = after.st_ino;
      h.attempts = attempt;
      if (keep && content.size() == n) {
        h.has_content = true;
        h.content = std::move(content);
      }
      return h;
    }
    ::usleep(static_cast<useconds_t>(10000 * attempt));
  }
  return Err(rel + ": file kept changing while being read (" +
             std::to_string(opts.max_read_attempts) + " attempts); not shipping a torn copy");
}

Result<std::string> Sha256File(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err("cannot open " + path + ": " + ErrnoText(errno));
  uint64_t n = 0;
  auto r = HashFd(fd, &n);
  ::close(fd);
  return r;
}

Result<Capture> CaptureTree(const std::string& root, HashCache* cache, const ScanOptions& opts) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) return Err("source " + root + ": " + ErrnoText(errno));
  if (!S_ISDIR(st.st_mode)) return Err("source " + root + " is not a directory");
  return Walker(root, cache, opts).Run();
}

}  // namespace aha::replication
