/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the unit tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 4097 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

char *tu_read_data(const char *relpath, size_t *len)
{
	char path[4096];
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", UPK_TEST_DATA, relpath);
	buf = tu_read_file(path, len);
	if (buf == NULL)
		fail_msg("cannot read test data %s", path);
	return buf;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fail_msg("cannot write %s", path);
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fail_msg("short write to %s", path);
}

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];

	snprintf(path, sizeof(path), "%s/upk-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(path) == NULL)
		fail_msg("mkdtemp failed");
	return strdup(path);
}

void tu_rmtree(const char *path)
{
	if (path != NULL && strncmp(path, "/", 1) == 0 && strstr(path, "upk-test-") != NULL)
		tu_system("rm -rf '%s'", path);
}

int tu_system(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

int tu_spawn_server(char *const argv[], const char *log, unsigned *port)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (freopen(log, "w", stderr) == NULL)
			_exit(99);
		execv(argv[0], argv);
		_exit(98);
	}
	for (int i = 0; i < 500; i++) {
		char *text = tu_read_file(log, NULL);
		char *at = text != NULL ? strstr(text, "ready on port ") : NULL;

		if (at != NULL && strchr(at, '\n') != NULL) {
			*port = (unsigned)strtoul(at + 14, NULL, 10);
			free(text);
			return pid;
		}
		free(text);
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("upkeep-server did not start (see %s)", log);
	return -1;
}
