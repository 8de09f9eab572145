/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tar archives for the tar reader and archive installer tests, made at test
 * time by Python's tarfile module (an independent writer), including the
 * hostile ones no tar(1) would write.
 */
#ifndef UPK_TU_TARFILES_H
#define UPK_TU_TARFILES_H

#include "tu_agent.h"

static const char tu_tar_gen_py[] =
    "import io, sys, tarfile\n"
    "out, kind = sys.argv[1], sys.argv[2]\n"
    "fmt = {'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT}.get(kind.split(':')[0], "
    "tarfile.USTAR_FORMAT)\n"
    "t = tarfile.open(out, 'w', format=fmt)\n"
    "def add(name, data=b'', mode=0o644, type=tarfile.REGTYPE, link='', mtime=1700000000):\n"
    "    i = tarfile.TarInfo(name); i.type = type; i.mode = mode; i.mtime = mtime; i.linkname = "
    "link\n"
    "    i.size = len(data) if type == tarfile.REGTYPE else 0\n"
    "    t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)\n"
    "def bundle(v):\n"
    "    add('./', type=tarfile.DIRTYPE, mode=0o755)\n"
    "    add('./bin', type=tarfile.DIRTYPE, mode=0o755)\n"
    "    add('./bin/app', b'#!/bin/sh\\necho ' + v.encode() + b'\\n', mode=0o4755)\n"
    "    add('./etc/app.conf', b'version=' + v.encode() + b'\\n' * 1000)\n"
    "    add('./lib/link', type=tarfile.SYMTYPE, link='../bin/app')\n"
    "    add('./hard', type=tarfile.LNKTYPE, link='bin/app')\n"
    "    add('./' + 'd' * 120 + '/' + 'f' * 120, b'deep')\n"
    "k = kind.split(':', 1)[1] if ':' in kind else kind\n"
    "if k.startswith('v'): bundle(k)\n"
    "elif k == 'abs': add('/etc/evil', b'x')\n"
    "elif k == 'dotdot': add('a/../../evil', b'x')\n"
    "elif k == 'symabs': add('l', type=tarfile.SYMTYPE, link='/etc/passwd')\n"
    "elif k == 'symesc': add('a/l', type=tarfile.SYMTYPE, link='../../etc')\n"
    "elif k == 'symmid': add('a/l', type=tarfile.SYMTYPE, link='b/../../x')\n"
    "elif k == 'through': add('sub', type=tarfile.DIRTYPE, mode=0o755); add('d', "
    "type=tarfile.SYMTYPE, link='sub'); add('d/f', b'x')\n"
    "elif k == 'dev': add('console', type=tarfile.CHRTYPE)\n"
    "elif k == 'fifo': add('pipe', type=tarfile.FIFOTYPE)\n"
    "elif k == 'hardesc': add('h', type=tarfile.LNKTYPE, link='../etc/passwd')\n"
    "elif k == 'hardnone': add('h', type=tarfile.LNKTYPE, link='nothing')\n"
    "elif k == 'dup': add('f', b'1'); add('f', b'2')\n"
    "elif k == 'dupsym': add('f', type=tarfile.SYMTYPE, link='g'); add('f', b'2')\n"
    "elif k == 'many': [add('f%d' % i, b'x') for i in range(50)]\n"
    "elif k == 'big': add('f', b'x' * 100000)\n"
    "elif k == 'longlink': add('l', type=tarfile.SYMTYPE, link='x' * 300)\n"
    "t.close()\n";

/* Make DIR/NAME as archive KIND ("gnu:v1.0.0", "ustar:abs", ...). */
static TU_UNUSED void tu_make_tar(const char *dir, const char *name, const char *kind)
{
	char gen[4096];

	snprintf(gen, sizeof(gen), "%s/tar_gen.py", dir);
	tu_write_file(gen, tu_tar_gen_py, sizeof(tu_tar_gen_py) - 1);
	if (tu_system("python3 %s %s/%s %s", gen, dir, name, kind) != 0)
		fail_msg("python3 could not make the archive %s", kind);
}

#endif
