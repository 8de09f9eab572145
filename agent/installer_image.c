/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image installer: a file system image (raw or zstd) streamed into the
 * inactive slot with fixed memory, whatever the image size; then fsynced,
 * read back from the medium and checked before anyone may switch to it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "installer.h"
#include "readback.h"
#include "slot.h"
#include "upkeep/crypto.h"

/*
 * Small writes are gathered into blocks of this size; data that arrives in
 * larger pieces (a download's receive buffer, zstd's output) is written
 * from where it is, without a copy. Also the read-back's block size.
 */
#define IMAGE_BUF (128u * 1024u)
/*
 * Write-behind and read-back run in windows (READBACK_WINDOW): once a window
 * is written its writeback is started, and the read-back thread waits for
 * it and reads it back from the medium while the device writes the next
 * ones. The writer waits when IMAGE_LAG windows are not read back yet, so
 * the page cache holds at most about that much of the image.
 */
#define IMAGE_LAG 4u

struct image_inst {
	struct installer base;
	char *slot_name;
	char *device;
	int fd;
	uint64_t capacity;
	struct decomp *dc;
	struct upk_hash *payload_hash; /* NULL: the caller checks the payload (payload_checked) */
	struct upk_hash *image_hash;
	unsigned char *buf;
	size_t buf_len;
	uint64_t image_bytes;
	uint64_t written; /* bytes flushed to the slot */
	uint64_t started; /* writeback started up to here */
	struct readback *readback;
	struct payload_expect expect;
	struct journal *journal;
	char *version;
	char image_hex[65];
};

void installer_slot_key(const char *slot, char *buf, size_t cap)
{
	snprintf(buf, cap, "slot.%s", slot);
}

static upk_status record(struct image_inst *im, const char *state, const char *payload_hex,
                         struct upk_error *err)
{
	char key[64];
	json_t *o;
	upk_status ret;

	if (im->journal == NULL)
		return UPK_OK;
	installer_slot_key(im->slot_name, key, sizeof(key));
	o = json_pack("{s:s}", "state", state);
	if (o != NULL && im->version != NULL)
		json_object_set_new(o, "version", json_string(im->version));
	if (o != NULL && strcmp(state, "written") == 0) {
		json_object_set_new(o, "sha256", json_string(im->image_hex));
		json_object_set_new(o, "size", json_integer((json_int_t)im->image_bytes));
		json_object_set_new(o, "payload_sha256", json_string(payload_hex));
	}
	ret = journal_set(im->journal, key, o, err);
	if (ret != UPK_OK)
		return ret;
	return journal_commit(im->journal, err);
}

/* Write len bytes at the end of what is written; start writeback and read back behind. */
static upk_status write_block(struct image_inst *im, const void *data, size_t len,
                              struct upk_error *err)
{
	upk_status ret;

	ret = fio_write_all(im->fd, data, len, im->device, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "slot %s at byte %llu: ", im->slot_name,
		                        (unsigned long long)im->written);
	im->written += len;
	if (im->written - im->started < READBACK_WINDOW)
		return UPK_OK;
	ret = fio_sync_range(im->fd, im->started, im->written - im->started, SYNC_FILE_RANGE_WRITE,
	                     im->device, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "slot %s: ", im->slot_name);
	im->started = im->written;
	return readback_advance(im->readback, im->started, err);
}

static upk_status flush_buf(struct image_inst *im, struct upk_error *err)
{
	size_t len = im->buf_len;

	if (len == 0)
		return UPK_OK;
	im->buf_len = 0;
	return write_block(im, im->buf, len, err);
}

/* Decompressed image bytes: bounded by the slot, hashed, gathered, written. */
static upk_status image_out(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	struct image_inst *im = ctx;
	const unsigned char *p = data;
	upk_status ret;

	if (len > im->capacity - im->image_bytes)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "image does not fit slot %s (%llu bytes)", im->slot_name,
		                     (unsigned long long)im->capacity);
	/* A raw image is its payload: hashing it twice would only cost time. */
	if (decomp_is_zstd(im->dc)) {
		ret = upk_hash_update(im->image_hash, data, len, err);
		if (ret != UPK_OK)
			return ret;
	}
	im->image_bytes += len;
	if (im->buf_len == 0 && len >= IMAGE_BUF) {
		size_t direct = len - len % IMAGE_BUF;

		ret = write_block(im, p, direct, err);
		if (ret != UPK_OK)
			return ret;
		p += direct;
		len -= direct;
	}
	while (len > 0) {
		size_t take = IMAGE_BUF - im->buf_len;

		if (take > len)
			take = len;
		memcpy(im->buf + im->buf_len, p, take);
		im->buf_len += take;
		p += take;
		len -= take;
		if (im->buf_len == IMAGE_BUF) {
			ret = flush_buf(im, err);
			if (ret != UPK_OK)
				return ret;
		}
	}
	return UPK_OK;
}

static upk_status image_write(struct installer *in, const void *data, size_t len,
                              struct upk_error *err)
{
	struct image_inst *im = (struct image_inst *)in;
	upk_status ret;

	if (im->expect.length != 0 && len > im->expect.length - im->base.payload_bytes)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "payload longer than the expected %llu bytes",
		                     (unsigned long long)im->expect.length);
	if (im->payload_hash != NULL) {
		ret = upk_hash_update(im->payload_hash, data, len, err);
		if (ret != UPK_OK)
			return ret;
	}
	return decomp_write(im->dc, data, len, err);
}

static upk_status image_finish(struct installer *in, struct upk_error *err)
{
	struct image_inst *im = (struct image_inst *)in;
	uint8_t payload[UPK_HASH_MAX_LEN], image[UPK_HASH_MAX_LEN], readback[UPK_HASH_MAX_LEN];
	char payload_hex[65];
	upk_status ret;

	ret = decomp_finish(im->dc, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "slot %s: ", im->slot_name);
	ret = flush_buf(im, err);
	if (ret != UPK_OK)
		return ret;
	if (im->payload_hash == NULL)
		memcpy(payload, im->expect.sha256, 32); /* the caller's check stands for it */
	else if ((ret = upk_hash_final(im->payload_hash, payload, err)) != UPK_OK)
		return ret;
	if (!decomp_is_zstd(im->dc))
		memcpy(image, payload, sizeof(image));
	else if ((ret = upk_hash_final(im->image_hash, image, err)) != UPK_OK)
		return ret;
	upk_hex_encode(payload, 32, payload_hex);
	upk_hex_encode(image, 32, im->image_hex);
	ret = installer_check_payload(&im->expect, im->base.payload_bytes, payload, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "slot %s: ", im->slot_name);
	/*
	 * The image must be durable (data and the device's cache) before the
	 * rest is read back, and long before anything can boot it.
	 */
	ret = fio_fsync(im->fd, im->device, err);
	if (ret == UPK_OK)
		ret = fio_close(&im->fd, im->device, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "slot %s: ", im->slot_name);
	ret = readback_finish(im->readback, im->image_bytes, readback, err);
	if (ret != UPK_OK)
		return ret;
	if (memcmp(readback, image, 32) != 0) {
		char got_hex[65];

		upk_hex_encode(readback, 32, got_hex);
		return upk_error_set(err, UPK_ERR_HASH,
		                     "slot %s: read-back of %s: sha256 %s, but %s was written",
		                     im->slot_name, im->device, got_hex, im->image_hex);
	}
	return record(im, "written", payload_hex, err);
}

static void image_abort(struct installer *in)
{
	struct image_inst *im = (struct image_inst *)in;

	/* The slot stays recorded as "writing": its content is not an image. */
	readback_free(im->readback);
	im->readback = NULL;
	fio_close_quiet(&im->fd);
}

static void image_free(struct installer *in)
{
	struct image_inst *im = (struct image_inst *)in;

	readback_free(im->readback);
	fio_close_quiet(&im->fd);
	decomp_free(im->dc);
	upk_hash_free(im->payload_hash);
	upk_hash_free(im->image_hash);
	free(im->buf);
	free(im->slot_name);
	free(im->device);
	free(im->version);
	free(im);
}

static const struct installer_ops image_ops = {
    .name = "image",
    .write = image_write,
    .finish = image_finish,
    .abort = image_abort,
    .free = image_free,
};

upk_status installer_image_begin(const struct image_opts *opts, struct installer **out,
                                 struct upk_error *err)
{
	struct image_inst *im = calloc(1, sizeof(*im));
	upk_status ret;

	if (im == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	im->base.ops = &image_ops;
	im->fd = -1;
	im->expect = opts->expect;
	im->journal = opts->journal;
	im->slot_name = strdup(opts->slot->name);
	im->device = strdup(opts->slot->device);
	im->buf = malloc(IMAGE_BUF);
	if (im->slot_name == NULL || im->device == NULL || im->buf == NULL ||
	    (opts->version != NULL && (im->version = strdup(opts->version)) == NULL)) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((!(opts->payload_checked && opts->expect.have_sha256) &&
	     (ret = upk_hash_new(UPK_HASH_SHA256, &im->payload_hash, err)) != UPK_OK) ||
	    (ret = upk_hash_new(UPK_HASH_SHA256, &im->image_hash, err)) != UPK_OK)
		goto out;
	ret = slot_open_write(opts->slot, &im->fd, &im->capacity, err);
	if (ret != UPK_OK)
		goto out;
	ret = readback_start(im->device, im->slot_name, im->fd, IMAGE_LAG, &im->readback, err);
	if (ret != UPK_OK)
		goto out;
	if (opts->decomp == DECOMP_RAW && opts->expect.length > im->capacity) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
		                    "slot %s: image of %llu bytes does not fit its %llu bytes",
		                    im->slot_name, (unsigned long long)opts->expect.length,
		                    (unsigned long long)im->capacity);
		goto out;
	}
	/* image_out() enforces the slot's capacity, with the better message. */
	ret = decomp_new(opts->decomp, UINT64_MAX, image_out, im, &im->dc, err);
	if (ret != UPK_OK)
		goto out;
	/* Before the first byte: a crash from here on must leave the slot marked not bootable. */
	ret = record(im, "writing", NULL, err);
	if (ret != UPK_OK)
		goto out;
	*out = &im->base;
	im = NULL;
out:
	if (im != NULL)
		image_free(&im->base);
	return ret;
}

uint64_t installer_image_size(const struct installer *in)
{
	return ((const struct image_inst *)in)->image_bytes;
}

uint64_t installer_image_flushed(const struct installer *in)
{
	return ((const struct image_inst *)in)->written;
}

const char *installer_image_sha256(const struct installer *in)
{
	return ((const struct image_inst *)in)->image_hex;
}
