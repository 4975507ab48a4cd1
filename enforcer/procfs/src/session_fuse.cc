// What a container's FUSE connections answer (session.h): the trees, attributes, renderings
// and the lowlevel ops tables.
#include "session.h"

namespace eci::procfs {

void Session::buildTrees() {
  Tree& st = static_.tree;
  const fuse_ino_t proc = st.ensureDir("proc");
  st.add(proc, "uptime", NodeKind::kUptime, S_IFREG | 0444);
  st.add(proc, "swaps", NodeKind::kSwaps, S_IFREG | 0444);
  st.ensureDir("proc/sys");  // the knobs connection is mounted here
  for (const char* d : {"debug", "tracing", "security", "config"})
    st.ensureDir(std::string("sys/kernel/") + d);
  st.add(st.ensureDir("sys/devices/virtual/dmi/id"), "product_uuid", NodeKind::kProductUuid,
         S_IFREG | 0400);

  for (const auto& spec : emulatedSysctls()) {
    // The initial value is the host's at container start; a knob this kernel lacks is left out
    // (bindProcSys skips what is not in the mount).
    auto text = fs::readFile(opt_.hostProcSys / spec.path, 4096);
    if (!text.ok()) {
      skipped_.emplace_back(spec.path);
      continue;
    }
    auto v = SysctlValue::fromHost(spec, *text);
    if (!v.ok()) {
      skipped_.emplace_back(spec.path);
      continue;
    }
    values_.push_back(std::move(*v));
    const std::string_view path = spec.path;  // relative to proc/sys, the knobs' root
    const auto slash = path.rfind('/');
    knobs_.tree.add(knobs_.tree.ensureDir(path.substr(0, slash)),
                    std::string(path.substr(slash + 1)), NodeKind::kSysctl, S_IFREG | 0644,
                    values_.size() - 1);
  }
}

double Session::fillAttr(Connection& c, fuse_ino_t ino, struct stat* st) {
  const Node& n = *c.tree.get(ino);
  *st = {};
  st->st_ino = ino;
  st->st_mode = n.mode;
  st->st_nlink = n.kind == NodeKind::kDir ? 2 : 1;
  // Owned by the container's root so that root inside may write its own values
  // (default_permissions makes the kernel check this against the caller's host uid).
  st->st_uid = info_.rootUid;
  st->st_gid = info_.rootGid;
  st->st_blksize = 4096;
  int64_t mtime = startRealNs_;
  double timeout = kCacheSeconds;
  switch (n.kind) {
    case NodeKind::kDir:
      break;
    case NodeKind::kUptime: {
      // Size and mtime of a fresh rendering, which the next READ serves (see the top of the file).
      // Equal text keeps the old mtime, so the cached page survives.
      uptime_.adopt(renderUptimeNow(), monoNs(), clockNs(CLOCK_REALTIME));
      st->st_size = static_cast<off_t>(uptime_.text().size());
      mtime = uptime_.versionNs();
      timeout = kUptimeAttrSeconds;
      break;
    }
    case NodeKind::kSwaps:
    case NodeKind::kProductUuid:
      st->st_size = static_cast<off_t>(render(n).size());
      break;
    case NodeKind::kSysctl:
      st->st_size = kKnobReportedSize;
      mtime = clockNs(CLOCK_REALTIME);
      break;
  }
  st->st_atim = st->st_mtim = st->st_ctim = toTimespec(mtime);
  return timeout;
}

std::string Session::renderUptimeNow() {
  const double up = boottimeSeconds() - startBoottime_;
  // The host's idle counter is sampled at most every 100 ms (a pread on a pre-opened fd, no path
  // walk): it keeps a refresh to a clock read, and idle is an estimate anyway.
  const int64_t now = monoNs();
  if (hostUptime_ && now - idleSampledNs_ > 100'000'000) {
    if (auto idle = readHostIdle()) idleSample_ = *idle - hostIdleAtStart_;
    idleSampledNs_ = now;
  }
  double idle = idleSample_;
  const double maxIdle = up * static_cast<double>(cpus_);
  if (idle > maxIdle) idle = maxIdle;
  return renderUptime(up, idle);
}

std::optional<double> Session::readHostIdle() {
  char buf[128];
  const ssize_t r = pread(hostUptime_.get(), buf, sizeof buf - 1, 0);
  if (r <= 0) return std::nullopt;
  auto host = parseUptime(std::string_view(buf, static_cast<size_t>(r)));
  if (!host) return std::nullopt;
  return host->second;
}

std::string Session::render(const Node& n) {
  switch (n.kind) {
    case NodeKind::kSwaps:
      return std::string(swapsHeader());
    case NodeKind::kSysctl: {
      std::lock_guard lk(valuesMu_);
      return values_[n.sysctl].render();
    }
    case NodeKind::kProductUuid:
      return uuid_ + "\n";
    case NodeKind::kUptime:  // served from uptime_'s snapshot (staticRead), never rendered here
    case NodeKind::kDir:
      break;
  }
  return {};
}

void Session::lookup(Connection& c, fuse_req_t req, fuse_ino_t parent, const char* name) {
  const fuse_ino_t ino = c.tree.child(parent, name);
  if (!ino) return (void)fuse_reply_err(req, ENOENT);
  fuse_entry_param e{};
  e.ino = ino;
  e.generation = 1;
  e.entry_timeout = kCacheSeconds;
  e.attr_timeout = fillAttr(c, ino, &e.attr);
  fuse_reply_entry(req, &e);
}

void Session::getattr(Connection& c, fuse_req_t req, fuse_ino_t ino) {
  if (!c.tree.get(ino)) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  const double timeout = fillAttr(c, ino, &st);
  fuse_reply_attr(req, &st, timeout);
}

void Session::setattr(Connection& c, fuse_req_t req, fuse_ino_t ino, int toSet) {
  const Node* n = c.tree.get(ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  // `echo 1 > knob` opens with O_TRUNC, which arrives as a size change: accept it as procfs
  // does (a no-op). Owner and mode are fixed.
  constexpr int kAllowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                           FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  if ((toSet & ~kAllowed) != 0) return (void)fuse_reply_err(req, EPERM);
  if ((toSet & FUSE_SET_ATTR_SIZE) && n->kind != NodeKind::kSysctl)
    return (void)fuse_reply_err(req, EACCES);
  struct stat st;
  const double timeout = fillAttr(c, ino, &st);
  fuse_reply_attr(req, &st, timeout);
}

void Session::readdir(Connection& c, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  const Node* n = c.tree.get(ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  if (n->kind != NodeKind::kDir) return (void)fuse_reply_err(req, ENOTDIR);
  std::vector<std::pair<std::string_view, fuse_ino_t>> entries{{".", ino}, {"..", n->parent}};
  for (fuse_ino_t ch : n->children) entries.emplace_back(c.tree.get(ch)->name, ch);
  std::string out(size, '\0');
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(off, 0)); i < entries.size(); ++i) {
    struct stat st {};
    st.st_ino = entries[i].second;
    st.st_mode = c.tree.get(entries[i].second)->mode;
    const std::string name(entries[i].first);
    const size_t need = fuse_add_direntry(req, out.data() + used, size - used, name.c_str(), &st,
                                          static_cast<off_t>(i + 1));
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, out.data(), used);
}

void Session::staticOpen(Connection& c, fuse_req_t req, fuse_ino_t ino) {
  if (!c.tree.get(ino)) return (void)fuse_reply_err(req, ENOENT);
  // ENOSYS makes the kernel treat this and every later open on the connection as succeeded
  // without asking us (fuse_file_open: fc->no_open, FOPEN_KEEP_CACHE, no RELEASE). libfuse 3.14
  // only does this on its own (FUSE_CAP_NO_OPEN_SUPPORT in want) from 3.17 on, hence a handler.
  // Whatever the flags: a write is refused by the write handler, O_TRUNC by setattr (INIT turns
  // atomic_o_trunc off so that it reaches us).
  if (c.noOpen) return (void)fuse_reply_err(req, ENOSYS);
  // A kernel without zero-message opens (< 4.19): one round trip per open, reads still cached.
  fuse_file_info fi{};
  fi.keep_cache = 1;
  fuse_reply_open(req, &fi);
}

void Session::staticRead(Connection& c, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  const Node* n = c.tree.get(ino);
  if (!n || off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (n->kind == NodeKind::kDir) return (void)fuse_reply_err(req, EISDIR);
  // The page cache is filled from here. /proc/uptime serves the snapshot whose size the kernel
  // got with the last getattr (it bounds reads by that size, fuse_short_read would shrink it).
  if (n->kind == NodeKind::kUptime)
    return replySlice(
        req,
        uptime_.forRead(monoNs(), clockNs(CLOCK_REALTIME), [this] { return renderUptimeNow(); }),
        size, off);
  replySlice(req, render(*n), size, off);
}

void Session::knobOpen(Connection& c, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const Node* n = c.tree.get(ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  if (n->kind != NodeKind::kSysctl) return (void)fuse_reply_err(req, EISDIR);
  // The snapshot: reads at any offset are served from it, so `cat` and short reads see one
  // consistent text (lxcfs does the same).
  const uint64_t fh = knobFiles_.open(ino, render(*n));
  fi->fh = fh;
  // Re-grow i_size: a previous sendfile shrank it to that snapshot's length, and O_TRUNC opens
  // set it to 0. The kernel only grows i_size on a store of >= 1 byte, so store one byte as the
  // last byte of the reported size, on a page beyond any content (this open drops the page cache
  // anyway, no FOPEN_KEEP_CACHE). Best effort: if it fails sendfile may stop short, read() not.
  static char kPad = '\n';
  fuse_bufvec pad = FUSE_BUFVEC_INIT(1);
  pad.buf[0].mem = &kPad;
  (void)fuse_lowlevel_notify_store(c.se, ino, kKnobReportedSize - 1, &pad,
                                   FUSE_BUF_SPLICE_NONBLOCK);
  fi->direct_io = 1;  // a write must be seen by the next open: never serve from the page cache
  fi->keep_cache = 0;
  fi->noflush = 1;  // nothing to flush: saves a round trip per close()
  if (fuse_reply_open(req, fi) != 0) knobFiles_.forget(fh);  // the opener went away (interrupted)
}

const std::string* Session::knobSnapshot(Connection& c, fuse_ino_t ino, uint64_t fh) {
  const Node* n = c.tree.get(ino);
  const bool isKnob = n && n->kind == NodeKind::kSysctl;
  // Only a resumed session adopts unknown handles: in one that served every open itself an
  // unknown handle cannot come from the kernel, so it stays an error. The node id is the kernel's
  // (the container cannot choose it) and names the same knob as before the restart: the trees
  // are built identically and resume() checked the knob set (README "Restarts").
  return knobFiles_.find(fh, ino, isKnob, resumed_, [&] { return render(*n); });
}

void Session::knobRead(Connection& c, fuse_req_t req, fuse_ino_t ino, uint64_t fh, size_t size,
                       off_t off) {
  const std::string* snapshot = knobSnapshot(c, ino, fh);
  if (!snapshot) return (void)fuse_reply_err(req, EIO);  // never another file's text
  replySlice(req, *snapshot, size, off);
}

void Session::knobWrite(Connection& c, fuse_req_t req, fuse_ino_t ino, uint64_t fh, const char* buf,
                        size_t size, off_t off) {
  const Node* n = c.tree.get(ino);
  if (!n || n->kind != NodeKind::kSysctl) return (void)fuse_reply_err(req, EACCES);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  // A handle of the previous process is adopted here too (its snapshot taken before this write,
  // as an open before it would have). The write itself never depends on the handle: the node
  // says which value, and it is validated like every write.
  (void)knobSnapshot(c, ino, fh);
  int err;
  {
    std::lock_guard lk(valuesMu_);
    err = values_[n->sysctl].write(std::string_view(buf, size), static_cast<uint64_t>(off));
  }
  if (err) return (void)fuse_reply_err(req, err);
  saveState();  // before the reply: a value the container saw accepted survives our restart
  fuse_reply_write(req, size);
}

void Session::setCommonOps(fuse_lowlevel_ops& o) {
  o.lookup = [](fuse_req_t r, fuse_ino_t p, const char* name) {
    Connection& c = conn(r);
    c.session.lookup(c, r, p, name);
  };
  o.getattr = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info*) {
    Connection& c = conn(r);
    c.session.getattr(c, r, ino);
  };
  o.setattr = [](fuse_req_t r, fuse_ino_t ino, struct stat*, int toSet, fuse_file_info*) {
    Connection& c = conn(r);
    c.session.setattr(c, r, ino, toSet);
  };
  o.readdir = [](fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    Connection& c = conn(r);
    c.session.readdir(c, r, ino, size, off);
  };
  // No flush handler: libfuse answers ENOSYS once and the kernel stops sending FLUSH
  // (fuse_flush: fc->no_flush). No opendir/releasedir: libfuse answers them itself, and
  // directories keep being opened through us (no FOPEN_CACHE_DIR) so that a dead server fails
  // `ls` at once rather than serving a cached listing.
}

const fuse_lowlevel_ops& Session::staticOps() {
  static const fuse_lowlevel_ops kOps = [] {
    fuse_lowlevel_ops o{};
    setCommonOps(o);
    o.init = [](void* ud, fuse_conn_info* ci) {
      auto& c = *static_cast<Connection*>(ud);
      c.noOpen = (ci->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
      if (c.noOpen) ci->want |= FUSE_CAP_NO_OPEN_SUPPORT;  // documents intent; see staticOpen
      // Freshness relies on it (libfuse wants it by default; say so): with it, a changed mtime
      // drops the cached pages and every read(2) revalidates expired attributes.
      c.autoInvalData = (ci->capable & FUSE_CAP_AUTO_INVAL_DATA) != 0;
      if (c.autoInvalData) ci->want |= FUSE_CAP_AUTO_INVAL_DATA;
      // With atomic_o_trunc and no OPEN, an O_TRUNC open would zero i_size and drop the pages
      // in the kernel only (fuse_do_setattr, ATTR_OPEN), blanking swaps for an hour in that
      // container. Without it the truncation comes to setattr, which refuses it.
      ci->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
      c.initDone = true;
      c.session.signalInit();
    };
    o.open = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info*) {
      Connection& c = conn(r);
      c.session.staticOpen(c, r, ino);
    };
    // Reads come without a file handle (no OPEN, so fh is 0): the inode says what to serve.
    o.read = [](fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
      Connection& c = conn(r);
      c.session.staticRead(c, r, ino, size, off);
    };
    // Host root passes default_permissions for writing (and so does the container's root,
    // whose CAP_DAC_OVERRIDE covers files it owns); nothing here is writable. The kernel marks
    // the written page not uptodate on the error (fuse_send_write_pages), so nothing sticks.
    o.write = [](fuse_req_t r, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
      fuse_reply_err(r, EACCES);
    };
    return o;
  }();
  return kOps;
}

const fuse_lowlevel_ops& Session::knobsOps() {
  static const fuse_lowlevel_ops kOps = [] {
    fuse_lowlevel_ops o{};
    setCommonOps(o);
    o.init = [](void* ud, fuse_conn_info*) {
      auto* c = static_cast<Connection*>(ud);
      c->initDone = true;
      c->session.signalInit();
    };
    o.open = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info* fi) {
      Connection& c = conn(r);
      c.session.knobOpen(c, r, ino, fi);
    };
    o.read = [](fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
      Connection& c = conn(r);
      c.session.knobRead(c, r, ino, fi->fh, size, off);
    };
    o.write = [](fuse_req_t r, fuse_ino_t ino, const char* b, size_t s, off_t off,
                 fuse_file_info* fi) {
      Connection& c = conn(r);
      c.session.knobWrite(c, r, ino, fi->fh, b, s, off);
    };
    o.release = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info* fi) {
      conn(r).session.knobFiles_.release(fi->fh, ino);
      fuse_reply_err(r, 0);
    };
    return o;
  }();
  return kOps;
}

}  // namespace eci::procfs
