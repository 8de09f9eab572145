/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the push-mode tar reader (agent/tar.c) on archives written by GNU
 * tar and by Python's tarfile: GNU long names, pax, ustar prefixes, any
 * chunking, and malformed or truncated input.
 */
#include <stdio.h>
#include <string.h>

#include "tu_tarfiles.h"
#include "tar.h"

struct collect {
	char log[65536];
	size_t len;
	uint64_t data;
};

static upk_status on_begin(void *ctx, const struct tar_entry *e, struct upk_error *err)
{
	struct collect *c = ctx;
	(void)err;
	c->len +=
	    (size_t)snprintf(c->log + c->len, sizeof(c->log) - c->len, "%d %s %s %llu %o\n",
	                     e->type, e->path, e->linkpath, (unsigned long long)e->size, e->mode);
	return UPK_OK;
}

static upk_status on_data(void *ctx, const void *buf, size_t len, struct upk_error *err)
{
	struct collect *c = ctx;
	(void)buf, (void)err;
	c->data += len;
	return UPK_OK;
}

static upk_status on_end(void *ctx, struct upk_error *err)
{
	struct collect *c = ctx;
	(void)err;
	c->len += (size_t)snprintf(c->log + c->len, sizeof(c->log) - c->len, "end\n");
	return UPK_OK;
}

/* Read buf in chunks of chunk bytes; the status of the first failure or of finish. */
static upk_status read_tar(const char *buf, size_t len, size_t chunk, struct collect *c,
                           struct upk_error *err)
{
	static const struct tar_callbacks cb = {on_begin, on_data, on_end};
	struct tar_reader *r = NULL;
	upk_status ret;

	memset(c, 0, sizeof(*c));
	assert_int_equal(tar_reader_new(&cb, c, &r, err), UPK_OK);
	ret = UPK_OK;
	for (size_t off = 0; ret == UPK_OK && off < len; off += chunk)
		ret = tar_reader_feed(r, buf + off, len - off < chunk ? len - off : chunk, err);
	if (ret == UPK_OK)
		ret = tar_reader_finish(r, err);
	tar_reader_free(r);
	return ret;
}

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static void test_formats_and_chunking(void **state)
{
	static const char *const kinds[] = {"gnu:v1.0.0", "pax:v1.0.0"};
	struct collect c1, c2;
	struct upk_error err = {0};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		size_t len;
		char *buf;

		tu_make_tar(dir, "t.tar", kinds[k]);
		buf = tu_read_file(tu_path(dir, "t.tar"), &len);
		if (read_tar(buf, len, len, &c1, &err) != UPK_OK)
			fail_msg("%s: %s", kinds[k], err.msg);
		/* One byte at a time: the same entries and data. */
		assert_int_equal(read_tar(buf, len, 1, &c2, &err), UPK_OK);
		assert_string_equal(c1.log, c2.log);
		assert_int_equal(c1.data, c2.data);
		assert_int_equal(read_tar(buf, len, 511, &c2, &err), UPK_OK);
		assert_string_equal(c1.log, c2.log);
		assert_non_null(strstr(c1.log, "1 ./bin/app  22 4755\nend\n"));
		assert_non_null(strstr(c1.log, "3 ./lib/link ../bin/app 0 644\n"));
		assert_non_null(strstr(c1.log, "4 ./hard bin/app 0 644\n"));
		assert_non_null(strstr(c1.log, "2 ./ "));
		/* The 243-byte path survives both long-name mechanisms. */
		assert_non_null(strstr(
		    c1.log, "/fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		            "fffffffffffffffffffffffffffffffffffffffffffffffffff  4 644"));
		assert_int_equal(c1.data, 22 + 1014 + 4);
		free(buf);
	}
	/* GNU tar itself, with a long symlink target (GNU 'K') and pax. */
	assert_int_equal(
	    tu_system("cd %s && mkdir -p src/sub && echo hi > src/sub/f && "
	              "ln -s $(printf 'x%%.0s' $(seq 1 150)) src/longlink && "
	              "tar --format=gnu -cf g.tar -C src . && tar --format=pax -cf p.tar -C src .",
	              dir),
	    0);
	for (int k = 0; k < 2; k++) {
		size_t len;
		char *buf = tu_read_file(tu_path(dir, k ? "p.tar" : "g.tar"), &len);
		if (read_tar(buf, len, 1000, &c1, &err) != UPK_OK)
			fail_msg("%s: %s", k ? "p.tar" : "g.tar", err.msg);
		assert_non_null(strstr(c1.log, "1 ./sub/f  3 "));
		assert_non_null(strstr(c1.log, "3 ./longlink xxxxxxxxxx"));
		free(buf);
	}
}

static void test_malformed(void **state)
{
	struct collect c;
	struct upk_error err = {0};
	size_t len;
	char *buf, *copy;

	(void)state;
	tu_make_tar(dir, "t.tar", "gnu:v1.0.0");
	buf = tu_read_file(tu_path(dir, "t.tar"), &len);
	copy = malloc(len + 2048);
	/* Empty input, and a cut at every interesting place. */
	assert_int_equal(read_tar(buf, 0, 1, &c, &err), UPK_ERR_INVALID);
	assert_string_equal(err.msg, "empty archive");
	/* Python pads to 10 KiB with zeros: cut before the last entry's data ends. */
	size_t last = len;
	while (last > 0 && buf[last - 1] == 0)
		last--;
	for (size_t cut = 100; cut < last; cut += 733) {
		if (read_tar(buf, cut, 4096, &c, &err) == UPK_OK)
			fail_msg("an archive cut at %zu was accepted", cut);
	}
	assert_int_equal(read_tar(buf, 2048, 4096, &c, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "archive truncated at offset 2048"));
	/* A flipped header byte: bad checksum. */
	memcpy(copy, buf, len);
	copy[5] ^= 1;
	assert_int_equal(read_tar(copy, len, 4096, &c, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "header at offset 0: bad checksum"));
	/* No ustar magic: an old v7 header is refused. */
	memcpy(copy, buf, len);
	memset(copy + 257, 0, 8);
	assert_int_equal(read_tar(copy, len, 4096, &c, &err), UPK_ERR_UNSUPPORTED);
	/* Garbage after the end marker. */
	memcpy(copy, buf, len);
	memset(copy + len, 0, 2048);
	copy[len + 100] = 'x';
	assert_int_equal(read_tar(copy, len + 2048, 4096, &c, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "after the end of the archive"));
	/* Trailing zeros are fine. */
	copy[len + 100] = 0;
	assert_int_equal(read_tar(copy, len + 2048, 4096, &c, &err), UPK_OK);
	free(buf);
	free(copy);
	/* GNU sparse files are refused by type. */
	assert_int_equal(
	    tu_system("cd %s && truncate -s 1M sp && tar --format=gnu -S -cf s.tar sp", dir), 0);
	buf = tu_read_file(tu_path(dir, "s.tar"), &len);
	assert_int_equal(read_tar(buf, len, 4096, &c, &err), UPK_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "entry type 'S'"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats_and_chunking),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
