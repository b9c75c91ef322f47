#!/usr/bin/python3
"""
A case-insensitive, case-preserving filesystem for tests: what macOS (APFS, HFS+) and Windows
(NTFS) give by default, which this project's Linux machines cannot mount natively (their kernel
has no ext4 casefold). A FUSE passthrough over a real directory: every name is looked up ignoring
case (str.casefold), a created name keeps the spelling it was created with, and a case-only
rename (Readme.md -> README.md) renames the one file in place. st_ino is the backing file's, as
on a real disk, so one file seen under two spellings has one inode.

    casefold-fs.py BACKING_DIR MOUNTPOINT      (foreground; unmount with fusermount -u)

Needs Debian's python3-fusepy (module `fusepy`) and fuse3 (fusermount), and root or /dev/fuse
access. Used by @codemate-txn/testkit's mountCaseInsensitive().
"""
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations

STAT_FIELDS = ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid', 'st_ino')


class CaseFold(Operations):
    def __init__(self, root):
        self.root = os.path.realpath(root)

    # --- name resolution ---------------------------------------------------------------------

    def _match(self, parent, name):
        """The entry of parent whose name equals name ignoring case (exact spelling first)."""
        exact = os.path.join(parent, name)
        if os.path.lexists(exact):
            return exact
        try:
            entries = os.listdir(parent)
        except OSError:
            return exact
        fold = name.casefold()
        for e in entries:
            if e.casefold() == fold:
                return os.path.join(parent, e)
        return exact

    def _real(self, path):
        """The backing path of path, every component matched ignoring case."""
        cur = self.root
        for name in [p for p in path.split('/') if p]:
            cur = self._match(cur, name)
        return cur

    def _new(self, path):
        """Where a new entry named path goes: its parent resolved, its own name as spelled."""
        parent, name = os.path.split(path)
        return os.path.join(self._real(parent), name)

    # --- reads -------------------------------------------------------------------------------

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in STAT_FIELDS}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._real(path))

    def readlink(self, path):
        return os.readlink(self._real(path))

    def statfs(self, path):
        sv = os.statvfs(self._real(path))
        return {k: getattr(sv, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def access(self, path, amode):
        if not os.access(self._real(path), amode):
            raise FuseOSError(errno.EACCES)

    # --- changes -----------------------------------------------------------------------------

    def _taken(self, path):
        if os.path.lexists(self._real(path)):
            raise FuseOSError(errno.EEXIST)

    def mkdir(self, path, mode):
        self._taken(path)
        os.mkdir(self._new(path), mode)

    def rmdir(self, path):
        os.rmdir(self._real(path))

    def unlink(self, path):
        os.unlink(self._real(path))

    def symlink(self, target, source):
        # fusepy: create the link `target` pointing at `source`.
        self._taken(target)
        os.symlink(source, self._new(target))

    def link(self, target, source):
        self._taken(target)
        os.link(self._real(source), self._new(target))

    def rename(self, old, new):
        src = self._real(old)
        dst_existing = self._real(new)
        dst = self._new(new)
        if os.path.lexists(dst_existing) and dst_existing != src:
            # Another entry under another spelling: replaced, as rename(2) does; the new spelling stays.
            os.rename(src, dst_existing)
            if dst_existing != dst:
                os.rename(dst_existing, dst)
            return
        # Nothing there, or the same entry (a case-only rename): one rename to the new spelling.
        os.rename(src, dst)

    def chmod(self, path, mode):
        os.chmod(self._real(path), mode)

    def chown(self, path, uid, gid):
        os.lchown(self._real(path), uid, gid)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._real(path), length)

    def utimens(self, path, times=None):
        os.utime(self._real(path), times, follow_symlinks=False)

    # --- file handles ------------------------------------------------------------------------

    def open(self, path, flags):
        return os.open(self._real(path), flags)

    def create(self, path, mode, fi=None):
        self._taken(path)
        return os.open(self._new(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        return 0


def main():
    if len(sys.argv) != 3:
        sys.stderr.write('usage: casefold-fs.py BACKING_DIR MOUNTPOINT\n')
        return 2
    # No kernel caching of names or attributes: every lookup comes here, so no stale spelling.
    FUSE(CaseFold(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True, use_ino=True,
         entry_timeout=0, attr_timeout=0, negative_timeout=0, default_permissions=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
