#include "supervisor/model_fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "common/gguf.h"

namespace qmesh {

namespace fs = std::filesystem;
using FetchClock = std::chrono::steady_clock;

const char* toString(FetchFailure f) {
  switch (f) {
    case FetchFailure::None: return "ok";
    case FetchFailure::HttpStatus: return "http-status";
    case FetchFailure::Connection: return "connection";
    case FetchFailure::Stalled: return "stalled";
    case FetchFailure::DigestMismatch: return "digest-mismatch";
    case FetchFailure::NotGguf: return "not-gguf";
    case FetchFailure::NoSpace: return "no-space";
    case FetchFailure::Io: return "io";
  }
  return "?";
}

fs::path partialPathFor(const fs::path& dest) { return fs::path(dest.string() + ".partial"); }

namespace {

uint64_t statvfsFreeBytes(const fs::path& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return UINT64_MAX;  // unknown: let the write tell
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

FetchResult failed(FetchFailure f, std::string message) { return {f, std::move(message), 0, 0}; }

bool isNoSpace(int err) { return err == ENOSPC || err == EDQUOT; }

struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};

// One curl transfer into the partial file, appending to what an earlier one left.
struct Transfer {
  const FetchOptions* options = nullptr;
  CURL* easy = nullptr;
  fs::path partial;
  std::unique_ptr<FILE, FileCloser> file;
  crypto_hash_sha256_state hash{};
  uint64_t offset = 0;   // bytes already in the file when the transfer began
  uint64_t written = 0;  // bytes this transfer added
  uint64_t total = 0;    // offset + Content-Length, once the head has arrived
  bool headChecked = false;
  FetchFailure abort = FetchFailure::None;
  std::string abortMessage;
  FetchClock::time_point started = FetchClock::now(), lastProgress{};

  DownloadProgress progress() const {
    return {offset + written, total, offset,
            std::chrono::duration_cast<std::chrono::milliseconds>(FetchClock::now() - started)};
  }
};

// The kept prefix goes into the digest first, so the digest always covers the whole file.
bool hashExisting(Transfer& t) {
  std::vector<unsigned char> buf(1 << 20);
  std::rewind(t.file.get());
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), t.file.get())) > 0) {
    crypto_hash_sha256_update(&t.hash, buf.data(), n);
    t.offset += n;
  }
  return !std::ferror(t.file.get());
}

// At the first body byte the head is known, so the space is checked before a byte is
// written. (A server that ignores Range and answers 200 never gets here: curl fails the
// transfer with CURLE_RANGE_ERROR, and fetchModel starts over.)
bool checkHead(Transfer& t) {
  t.headChecked = true;
  curl_off_t length = -1;
  curl_easy_getinfo(t.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length <= 0) return true;
  t.total = t.offset + static_cast<uint64_t>(length);
  const uint64_t free = t.options->free_bytes(t.partial.parent_path());
  if (static_cast<uint64_t>(length) > free) {
    t.abort = FetchFailure::NoSpace;
    t.abortMessage = "needs " + formatBytes(static_cast<uint64_t>(length)) + " more but only " +
                     formatBytes(free) + " is free on " + t.partial.parent_path().string() +
                     ": free some space, or move node.data_dir to a larger disk";
    return false;
  }
  return true;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t.headChecked && !checkHead(t)) return 0;
  if (std::fwrite(data, 1, len, t.file.get()) != len) {
    const int err = errno;
    t.abort = isNoSpace(err) ? FetchFailure::NoSpace : FetchFailure::Io;
    t.abortMessage = "writing " + t.partial.string() + ": " + std::strerror(err);
    return 0;
  }
  crypto_hash_sha256_update(&t.hash, reinterpret_cast<const unsigned char*>(data), len);
  t.written += len;
  return len;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  const auto now = FetchClock::now();
  if (t.options->on_progress && now - t.lastProgress >= std::chrono::milliseconds(100)) {
    t.lastProgress = now;
    t.options->on_progress(t.progress());
  }
  return 0;
}

struct EasyCleanup {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

struct Attempt {
  CURLcode rc = CURLE_OK;
  long http = 0;
  std::string curlError;
};

Attempt runTransfer(Transfer& t, const std::string& url, const FetchOptions& o) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, EasyCleanup> easy(curl_easy_init());
  t.easy = easy.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  // A redirect may not turn a web download into a read of this machine's files.
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.stall_timeout.count()));
  curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, onProgress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "qmesh-supervisor/" QMESH_VERSION);
  Attempt a;
  a.rc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a.http);
  a.curlError = errbuf[0] ? errbuf : curl_easy_strerror(a.rc);
  t.easy = nullptr;
  return a;
}

bool isTlsError(CURLcode rc) {
  return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
         rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_CACERT_BADFILE ||
         rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
         rc == CURLE_SSL_INVALIDCERTSTATUS || rc == CURLE_USE_SSL_FAILED;
}

// What a failed transfer means to the operator. The partial stays for the failures a
// retry can get past (a cut, a stall); its size is said so they know a retry resumes.
FetchResult classify(const Attempt& a, const Transfer& t, const std::string& url) {
  const uint64_t kept = t.offset + t.written;
  const std::string resume =
      kept ? "; " + formatBytes(kept) + " kept in " + t.partial.string() + ": run it again to resume" : "";
  if (t.abort != FetchFailure::None) return failed(t.abort, url + ": " + t.abortMessage);
  if (a.rc == CURLE_HTTP_RETURNED_ERROR) {
    const std::string hint = a.http == 404 ? "no such file on the server: check the URL"
                             : a.http == 401 || a.http == 403
                                 ? "the server refuses: the URL may need a token or another address"
                                 : "the server failed: try again later or use another mirror";
    return failed(FetchFailure::HttpStatus, url + ": HTTP " + std::to_string(a.http) + ": " + hint);
  }
  if (a.rc == CURLE_FILE_COULDNT_READ_FILE)
    return failed(FetchFailure::HttpStatus, url + ": no such file, or not readable: check the path");
  if (a.rc == CURLE_OPERATION_TIMEDOUT && a.curlError.find("too slow") != std::string::npos)
    return failed(FetchFailure::Stalled, url + ": the server sent nothing for " +
                                             std::to_string(t.options->stall_timeout.count()) +
                                             "s (stalled)" + resume);
  if (isTlsError(a.rc))
    return failed(FetchFailure::Connection,
                  url + ": TLS failed (" + a.curlError +
                      "): check the scheme (https:// against an http server?) and the server's "
                      "certificate (the system CA store is used)" + resume);
  return failed(FetchFailure::Connection, url + ": " + a.curlError + resume);
}

bool digestHex(crypto_hash_sha256_state& st, std::string& out) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, d);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, d, sizeof d);
  out = hex;
  return true;
}

// The rename is what makes the file exist for `start`; flushing first means a crash right
// after cannot leave a complete-looking but short model behind.
FetchResult finish(Transfer& t, const std::string& url, const std::string& sha256, const fs::path& dest) {
  FILE* f = t.file.get();
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
    const int err = errno;
    return failed(isNoSpace(err) ? FetchFailure::NoSpace : FetchFailure::Io,
                  "writing " + t.partial.string() + ": " + std::strerror(err));
  }
  t.file.reset();
  std::string got;
  digestHex(t.hash, got);
  std::error_code ec;
  const uint64_t size = t.offset + t.written;
  if (got != sha256) {
    fs::remove(t.partial, ec);
    return failed(FetchFailure::DigestMismatch,
                  url + ": the " + formatBytes(size) + " downloaded have sha256 " + got +
                      ", not the pinned " + sha256 +
                      ": deleted. Check that the URL and models[].sha256 name the same file");
  }
  if (auto meta = readGgufMetadata(t.partial); !meta) {
    fs::remove(t.partial, ec);
    return failed(FetchFailure::NotGguf, url + ": matches its sha256 but is no usable GGUF (deleted): " +
                                             meta.error().message);
  }
  fs::rename(t.partial, dest, ec);
  if (ec) return failed(FetchFailure::Io, "cannot rename " + t.partial.string() + " to " + dest.string() + ": " + ec.message());
  if (int dir = ::open(dest.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {FetchFailure::None, "", size, 0};
}

}  // namespace

FetchResult fetchModel(const std::string& url, const std::string& sha256, const fs::path& dest,
                       const FetchOptions& optionsIn) {
  if (sodium_init() < 0) std::abort();  // no libsodium: nothing safe to do
  FetchOptions options = optionsIn;
  if (!options.free_bytes) options.free_bytes = statvfsFreeBytes;
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return failed(FetchFailure::Io, "cannot create " + dest.parent_path().string() + ": " + ec.message());
  // Two rounds at most: a kept partial is deleted and the file fetched once more from the
  // start when the server cannot resume (no Range support) or calls it complete (416) while
  // its digest is wrong.
  for (int round = 0;; ++round) {
    Transfer t;
    t.options = &options;
    t.partial = partialPathFor(dest);
    t.file.reset(std::fopen(t.partial.c_str(), "a+b"));
    if (!t.file) return failed(FetchFailure::Io, "cannot write " + t.partial.string() + ": " + std::strerror(errno));
    crypto_hash_sha256_init(&t.hash);
    if (!hashExisting(t)) return failed(FetchFailure::Io, "cannot read " + t.partial.string());
    const uint64_t resumedFrom = t.offset;
    const Attempt a = runTransfer(t, url, options);
    if (a.rc == CURLE_RANGE_ERROR && t.offset > 0 && round == 0) {
      t.file.reset();  // the server cannot resume: fetch it whole
      fs::remove(t.partial, ec);
      continue;
    }
    // curl lets a 416 to a resume pass as success (the file may be complete); the digest decides.
    const bool keptIsWhole =
        (a.rc == CURLE_OK || a.rc == CURLE_HTTP_RETURNED_ERROR) && a.http == 416 && t.offset > 0;
    if (a.rc != CURLE_OK && !keptIsWhole) {
      FetchResult r = classify(a, t, url);
      t.file.reset();
      if (t.offset + t.written == 0) fs::remove(t.partial, ec);
      return r;
    }
    if (options.on_progress) options.on_progress(t.progress());
    FetchResult r = finish(t, url, sha256, dest);
    if (r.failure == FetchFailure::DigestMismatch && keptIsWhole && round == 0) continue;
    r.resumed_from = resumedFrom;
    return r;
  }
}

}  // namespace qmesh
