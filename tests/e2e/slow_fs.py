"""A file system whose every name lookup takes DELAY seconds: a slow disk.

Run by test_slow_disk.py with Debian's /usr/bin/python3 (python3-llfuse):

    /usr/bin/python3 slow_fs.py MOUNTPOINT DELAY

It holds one directory with one file, file.txt ("from the slow disk\\n").
Caching is off (attribute and entry timeouts of 0), so each stat() or
open() of a name inside it reaches lookup() and waits; the mount point
itself answers at once. It mounts, prints "mounted" on stdout, and serves
until SIGTERM, then unmounts."""

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import llfuse

CONTENT = b"from the slow disk\n"
FILE_INODE = llfuse.ROOT_INODE + 1


class SlowFS(llfuse.Operations):
    def __init__(self, delay):
        super().__init__()
        self.delay = delay

    def getattr(self, inode, ctx=None):
        entry = llfuse.EntryAttributes()
        if inode == llfuse.ROOT_INODE:
            entry.st_mode = stat.S_IFDIR | 0o755
            entry.st_size = 0
        elif inode == FILE_INODE:
            entry.st_mode = stat.S_IFREG | 0o644
            entry.st_size = len(CONTENT)
        else:
            raise llfuse.FUSEError(errno.ENOENT)
        entry.st_ino = inode
        entry.st_nlink = 1
        entry.st_uid = os.getuid()
        entry.st_gid = os.getgid()
        entry.st_atime_ns = entry.st_mtime_ns = entry.st_ctime_ns = 1700000000 * 10**9
        entry.attr_timeout = 0
        entry.entry_timeout = 0
        return entry

    def lookup(self, parent_inode, name, ctx=None):
        time.sleep(self.delay)
        if parent_inode == llfuse.ROOT_INODE and name == b"file.txt":
            return self.getattr(FILE_INODE)
        raise llfuse.FUSEError(errno.ENOENT)

    def opendir(self, inode, ctx):
        if inode != llfuse.ROOT_INODE:
            raise llfuse.FUSEError(errno.ENOTDIR)
        return inode

    def readdir(self, fh, off):
        if off == 0:
            yield (b"file.txt", self.getattr(FILE_INODE), 1)

    def open(self, inode, flags, ctx):
        if inode != FILE_INODE:
            raise llfuse.FUSEError(errno.EISDIR)
        return inode

    def read(self, fh, off, size):
        return CONTENT[off:off + size]


def main():
    mountpoint, delay = sys.argv[1], float(sys.argv[2])
    llfuse.init(SlowFS(delay), mountpoint, ["fsname=torus-slow-fs", "ro"])

    def stop(*_):
        # llfuse.main() returns once the file system is unmounted.
        threading.Thread(target=subprocess.run, args=(["fusermount3", "-u", "-z", mountpoint],)).start()

    signal.signal(signal.SIGTERM, stop)
    print("mounted", flush=True)
    try:
        llfuse.main(workers=8)
    finally:
        llfuse.close(unmount=True)


if __name__ == "__main__":
    main()
