/* SPDX-License-Identifier: Apache-2.0 */
/* The read-back thread of the image installer (see readback.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "readback.h"
#include "upkeep/crypto.h"

#define READ_BLOCK (128u * 1024u)
#define NOT_YET UINT64_MAX

struct readback {
	char *device;
	char *slot_name;
	int rfd; /* reads */
	int sfd; /* a duplicate of the writer's descriptor: waits for its writeback */
	unsigned lag;
	unsigned char *buf;
	struct upk_hash *hash;
	pthread_t thread;
	int running;
	/* Shared with the writer, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t started;  /* the writer started writeback up to here */
	uint64_t final;    /* NOT_YET, or the length once all of it is durable */
	uint64_t verified; /* read back and hashed up to here */
	int stop;
	int exited;
	upk_status ret;
	struct upk_error err;
};

/*
 * Read [off, off + len) back into the hash. wait: its writeback was only
 * started, so wait for it first. The cached pages are dropped (they are
 * clean) so the read comes from the medium: it checks what will really
 * boot, and a large image does not evict the running system's page cache.
 */
static upk_status verify(struct readback *rb, uint64_t off, uint64_t len, int wait,
                         struct upk_error *err)
{
	uint64_t at = off, left = len;
	upk_status ret;

	if (wait) {
		ret = fio_sync_range(rb->sfd, off, len,
		                     SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		                         SYNC_FILE_RANGE_WAIT_AFTER,
		                     rb->device, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "slot %s: ", rb->slot_name);
	}
	posix_fadvise(rb->rfd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	while (left > 0) {
		size_t want = left < READ_BLOCK ? (size_t)left : READ_BLOCK, got = 0;

		ret = fio_pread_full(rb->rfd, rb->buf, want, at, &got, rb->device, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "slot %s: read-back: ", rb->slot_name);
		if (got < want)
			return upk_error_set(
			    err, UPK_ERR_HASH,
			    "slot %s: read-back of %s ends at byte %llu, before the image does",
			    rb->slot_name, rb->device, (unsigned long long)(at + got));
		ret = upk_hash_update(rb->hash, rb->buf, want, err);
		if (ret != UPK_OK)
			return ret;
		at += want;
		left -= want;
	}
	/* Dropped again: the read-back must not leave the image in the page cache. */
	posix_fadvise(rb->rfd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	return UPK_OK;
}

static void *worker(void *arg)
{
	struct readback *rb = arg;

	pthread_mutex_lock(&rb->mu);
	for (;;) {
		struct upk_error e = {0};
		uint64_t off, len;
		int wait;
		upk_status ret;

		while (!rb->stop && rb->final == NOT_YET &&
		       rb->started - rb->verified < READBACK_WINDOW)
			pthread_cond_wait(&rb->cv, &rb->mu);
		if (rb->stop)
			break;
		off = rb->verified;
		/* Once all is durable the rest goes at once, without waiting. */
		wait = rb->final == NOT_YET;
		len = wait ? READBACK_WINDOW : rb->final - off;
		pthread_mutex_unlock(&rb->mu);
		ret = len > 0 ? verify(rb, off, len, wait, &e) : UPK_OK;
		pthread_mutex_lock(&rb->mu);
		if (ret != UPK_OK) {
			rb->ret = ret;
			rb->err = e;
			break;
		}
		rb->verified = off + len;
		pthread_cond_broadcast(&rb->cv);
		if (rb->final != NOT_YET && rb->verified == rb->final)
			break;
	}
	rb->exited = 1;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
	return NULL;
}

upk_status readback_start(const char *device, const char *slot_name, int wfd, unsigned lag,
                          struct readback **out, struct upk_error *err)
{
	struct readback *rb = calloc(1, sizeof(*rb));
	upk_status ret;

	if (rb == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	rb->rfd = rb->sfd = -1;
	rb->final = NOT_YET;
	rb->lag = lag > 0 ? lag : 1;
	pthread_mutex_init(&rb->mu, NULL);
	pthread_cond_init(&rb->cv, NULL);
	rb->device = strdup(device);
	rb->slot_name = strdup(slot_name);
	rb->buf = malloc(READ_BLOCK);
	if (rb->device == NULL || rb->slot_name == NULL || rb->buf == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = upk_hash_new(UPK_HASH_SHA256, &rb->hash, err);
	if (ret == UPK_OK)
		ret = fio_open(device, O_RDONLY | O_CLOEXEC, 0, &rb->rfd, err);
	if (ret == UPK_OK && (rb->sfd = fcntl(wfd, F_DUPFD_CLOEXEC, 0)) < 0)
		ret =
		    upk_error_set(err, UPK_ERR_IO, "slot %s: dup: %s", slot_name, strerror(errno));
	if (ret == UPK_OK && pthread_create(&rb->thread, NULL, worker, rb) != 0)
		ret = upk_error_set(err, UPK_ERR_NOMEM,
		                    "slot %s: cannot start the read-back thread", slot_name);
	if (ret == UPK_OK)
		rb->running = 1;
out:
	if (ret != UPK_OK) {
		readback_free(rb);
		return ret;
	}
	*out = rb;
	return UPK_OK;
}

upk_status readback_advance(struct readback *rb, uint64_t started, struct upk_error *err)
{
	upk_status ret;

	pthread_mutex_lock(&rb->mu);
	rb->started = started;
	pthread_cond_broadcast(&rb->cv);
	while (!rb->exited && rb->started - rb->verified >= rb->lag * (uint64_t)READBACK_WINDOW)
		pthread_cond_wait(&rb->cv, &rb->mu);
	ret = rb->ret;
	if (ret != UPK_OK)
		*err = rb->err;
	pthread_mutex_unlock(&rb->mu);
	return ret;
}

upk_status readback_finish(struct readback *rb, uint64_t len, uint8_t sha256[32],
                           struct upk_error *err)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	upk_status ret;

	pthread_mutex_lock(&rb->mu);
	rb->final = len;
	pthread_cond_broadcast(&rb->cv);
	while (!rb->exited)
		pthread_cond_wait(&rb->cv, &rb->mu);
	ret = rb->ret;
	if (ret != UPK_OK)
		*err = rb->err;
	pthread_mutex_unlock(&rb->mu);
	pthread_join(rb->thread, NULL);
	rb->running = 0;
	if (ret == UPK_OK)
		ret = upk_hash_final(rb->hash, d, err);
	if (ret == UPK_OK)
		memcpy(sha256, d, 32);
	return ret;
}

void readback_free(struct readback *rb)
{
	if (rb == NULL)
		return;
	if (rb->running) {
		pthread_mutex_lock(&rb->mu);
		rb->stop = 1;
		pthread_cond_broadcast(&rb->cv);
		pthread_mutex_unlock(&rb->mu);
		pthread_join(rb->thread, NULL);
	}
	fio_close_quiet(&rb->rfd);
	fio_close_quiet(&rb->sfd);
	upk_hash_free(rb->hash);
	pthread_mutex_destroy(&rb->mu);
	pthread_cond_destroy(&rb->cv);
	free(rb->buf);
	free(rb->device);
	free(rb->slot_name);
	free(rb);
}
