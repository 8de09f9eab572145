/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the unit tests: test data files and scratch directories. */
#ifndef UPK_TESTUTIL_H
#define UPK_TESTUTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* Read tests/<relpath> into a NUL-terminated buffer; fails the test when missing. */
char *tu_read_data(const char *relpath, size_t *len);
/* Read any file; NULL when it cannot be read. */
char *tu_read_file(const char *path, size_t *len);
/* Write len bytes to path; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t len);
/* A fresh directory under $TMPDIR (or /tmp); caller frees the string, tu_rmtree() removes it. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Run a shell command and return its exit status (-1 when it could not run). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Run the real upkeep-server, argv[0] being its path, with stderr to log, and
 * wait (up to 10 s) until it prints "ready on port N": returns its pid and
 * sets *port; fails the test when it does not start.
 */
int tu_spawn_server(char *const argv[], const char *log, unsigned *port);

#endif
