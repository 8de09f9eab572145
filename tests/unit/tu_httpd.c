/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loopback test server of tu_httpd.h on libmicrohttpd, one thread per
 * connection so a slow response never blocks the others.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "testutil.h"
#include "tu_httpd.h"

#define MAX_RULES 32
#define MAX_COUNTS 256
#define ENDLESS_CAP (256u * 1024u * 1024u)
#define SLOW_MAX_SECONDS 30

struct rule {
	char path[512];
	enum tu_httpd_mode mode;
	char *content;
	size_t len;
};

struct count {
	char path[512];
	unsigned n;
};

struct tu_httpd {
	struct MHD_Daemon *d;
	char dir[4096];
	char url[64];
	pthread_mutex_t lock;
	struct rule rules[MAX_RULES];
	size_t n_rules;
	struct count counts[MAX_COUNTS];
	size_t n_counts;
	volatile int stopping;
	unsigned ranges;
};

struct slow {
	struct tu_httpd *h;
	char *data;
	size_t len;
};

static ssize_t slow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct slow *s = cls;

	if (pos >= s->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Bounded: the test's client gives up long before this. */
	if (s->h->stopping || pos > SLOW_MAX_SECONDS * 5)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	usleep(200000);
	if (max == 0)
		return 0;
	buf[0] = s->data[pos];
	return 1;
}

static void slow_free(void *cls)
{
	struct slow *s = cls;

	free(s->data);
	free(s);
}

static ssize_t endless_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct tu_httpd *h = cls;

	if (h->stopping || pos >= ENDLESS_CAP)
		return MHD_CONTENT_READER_END_OF_STREAM;
	memset(buf, '{', max);
	return (ssize_t)max;
}

/* The first half of data, then an error: the client sees a dropped connection. */
struct drop {
	char *data;
	size_t len;
};

static ssize_t drop_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct drop *d = cls;
	size_t half = d->len / 2;

	if (pos >= half)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > half - pos)
		max = half - pos;
	memcpy(buf, d->data + pos, max);
	return (ssize_t)max;
}

static void drop_free(void *cls)
{
	struct drop *d = cls;

	free(d->data);
	free(d);
}

/* "bytes=N-" -> N; -1 when absent or of another form. */
static long long range_start(struct MHD_Connection *conn)
{
	const char *r = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range");
	char *end = NULL;
	long long n;

	if (r == NULL || strncmp(r, "bytes=", 6) != 0)
		return -1;
	n = strtoll(r + 6, &end, 10);
	if (end == r + 6 || strcmp(end, "-") != 0 || n < 0)
		return -1;
	return n;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	struct tu_httpd *h = cls;
	struct MHD_Response *resp = NULL;
	enum tu_httpd_mode mode = TU_HTTPD_FILE;
	char *content = NULL;
	size_t len = 0;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result r;

	(void)version;
	(void)upload;
	if (*con_cls == NULL) {
		/* First call is for headers only. */
		*con_cls = h;
		return MHD_YES;
	}
	/* POST is answered like GET (canned answers of a fake server); its body is ignored. */
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return MHD_NO;
	if (*upload_size > 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->n_counts + 1 && i < MAX_COUNTS; i++) {
		if (i == h->n_counts) {
			snprintf(h->counts[i].path, sizeof(h->counts[i].path), "%s", url);
			h->counts[i].n = 0;
			h->n_counts++;
		}
		if (strcmp(h->counts[i].path, url) == 0) {
			h->counts[i].n++;
			break;
		}
	}
	for (size_t i = 0; i < h->n_rules; i++) {
		if (strcmp(h->rules[i].path, url) != 0)
			continue;
		mode = h->rules[i].mode;
		if (mode == TU_HTTPD_CONTENT) {
			content = malloc(h->rules[i].len + 1);
			if (content != NULL)
				memcpy(content, h->rules[i].content, h->rules[i].len);
			len = h->rules[i].len;
		}
	}
	pthread_mutex_unlock(&h->lock);

	/*
	 * Plain files are sent from their descriptor: a benchmark serves
	 * images of hundreds of MiB, which must not be copied into memory.
	 */
	if (mode == TU_HTTPD_FILE && range_start(conn) < 0 && strstr(url, "..") == NULL) {
		char path[8192];
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s%s", h->dir, url);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
			if (resp == NULL)
				close(fd);
			r = resp != NULL ? MHD_queue_response(conn, MHD_HTTP_OK, resp) : MHD_NO;
			if (resp != NULL)
				MHD_destroy_response(resp);
			return r;
		}
		if (fd >= 0)
			close(fd);
	}
	if (mode == TU_HTTPD_FILE || mode == TU_HTTPD_SLOW || mode == TU_HTTPD_DROP) {
		char path[8192];

		snprintf(path, sizeof(path), "%s%s", h->dir, url);
		content = strstr(url, "..") != NULL ? NULL : tu_read_file(path, &len);
		if (content == NULL)
			mode = TU_HTTPD_NOT_FOUND;
	}
	if ((mode == TU_HTTPD_FILE || mode == TU_HTTPD_DROP) && range_start(conn) >= 0) {
		long long from = range_start(conn);
		char cr[96];

		if ((size_t)from >= len) {
			free(content);
			return MHD_NO;
		}
		snprintf(cr, sizeof(cr), "bytes %lld-%zu/%zu", from, len - 1, len);
		memmove(content, content + from, len - (size_t)from);
		resp = MHD_create_response_from_buffer(len - (size_t)from, content,
		                                       MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Range", cr);
		pthread_mutex_lock(&h->lock);
		h->ranges++;
		pthread_mutex_unlock(&h->lock);
		r = MHD_queue_response(conn, MHD_HTTP_PARTIAL_CONTENT, resp);
		MHD_destroy_response(resp);
		return r;
	}
	switch (mode) {
	case TU_HTTPD_DROP: {
		struct drop *d = calloc(1, sizeof(*d));

		d->data = content;
		d->len = len;
		content = NULL;
		resp = MHD_create_response_from_callback(len, 16384, drop_read, d, drop_free);
		break;
	}
	case TU_HTTPD_FILE:
	case TU_HTTPD_CONTENT:
		resp = MHD_create_response_from_buffer(len, content, MHD_RESPMEM_MUST_FREE);
		content = NULL;
		break;
	case TU_HTTPD_SLOW: {
		struct slow *s = calloc(1, sizeof(*s));

		s->h = h;
		s->data = content;
		s->len = len;
		content = NULL;
		resp = MHD_create_response_from_callback(len, 1, slow_read, s, slow_free);
		break;
	}
	case TU_HTTPD_ENDLESS:
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, endless_read, h,
		                                         NULL);
		break;
	case TU_HTTPD_NOT_FOUND:
		status = MHD_HTTP_NOT_FOUND;
		resp =
		    MHD_create_response_from_buffer(9, (void *)"not found", MHD_RESPMEM_PERSISTENT);
		break;
	}
	free(content);
	if (resp == NULL)
		return MHD_NO;
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

struct tu_httpd *tu_httpd_start(const char *dir)
{
	struct tu_httpd *h = calloc(1, sizeof(*h));
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa = {0};

	if (h == NULL)
		return NULL;
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	pthread_mutex_init(&h->lock, NULL);
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
	                        NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR, &sa,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
	if (h->d == NULL) {
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u", (unsigned)info->port);
	return h;
}

const char *tu_httpd_url(const struct tu_httpd *h)
{
	return h->url;
}

void tu_httpd_set(struct tu_httpd *h, const char *path, enum tu_httpd_mode mode,
                  const void *content, size_t len)
{
	struct rule *r = NULL;

	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->n_rules; i++)
		if (strcmp(h->rules[i].path, path) == 0)
			r = &h->rules[i];
	if (r == NULL && h->n_rules < MAX_RULES) {
		r = &h->rules[h->n_rules++];
		snprintf(r->path, sizeof(r->path), "%s", path);
	}
	if (r != NULL) {
		free(r->content);
		r->content = NULL;
		r->len = 0;
		r->mode = mode;
		if (content != NULL) {
			r->content = malloc(len + 1);
			memcpy(r->content, content, len);
			r->len = len;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

unsigned tu_httpd_count(struct tu_httpd *h, const char *path)
{
	unsigned n = 0;

	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->n_counts; i++)
		if (path == NULL || strcmp(h->counts[i].path, path) == 0)
			n += h->counts[i].n;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void tu_httpd_reset_counts(struct tu_httpd *h)
{
	pthread_mutex_lock(&h->lock);
	h->n_counts = 0;
	pthread_mutex_unlock(&h->lock);
}

unsigned tu_httpd_ranges(struct tu_httpd *h)
{
	unsigned n;

	pthread_mutex_lock(&h->lock);
	n = h->ranges;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void tu_httpd_stop(struct tu_httpd *h)
{
	if (h == NULL)
		return;
	h->stopping = 1;
	MHD_stop_daemon(h->d);
	for (size_t i = 0; i < h->n_rules; i++)
		free(h->rules[i].content);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
