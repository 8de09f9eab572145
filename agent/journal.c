/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Atomic state file. Every commit rewrites the whole (small) object through
 * fio_write_file_atomic: write beside, fsync, rename, fsync the directory.
 * Simple, and a reader never sees half a state.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "journal.h"
#include "upkeep/json.h"

struct journal {
	char *path;
	json_t *root; /* the object, without "format" and "seq" */
	uint64_t seq;
};

static upk_status load(struct journal *j, const char *buf, size_t len, struct upk_error *err)
{
	struct upk_json_limits lim = {.max_bytes = JOURNAL_MAX_BYTES, .max_depth = 16};
	json_t *doc = NULL, *fmt, *seq;
	upk_status ret;

	ret = upk_json_parse(buf, len, &lim, &doc, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "state file %s: ", j->path);
	fmt = json_object_get(doc, "format");
	seq = json_object_get(doc, "seq");
	if (!json_is_object(doc) || !json_is_integer(fmt) || !json_is_integer(seq) ||
	    json_integer_value(seq) < 0) {
		ret = upk_error_set(
		    err, UPK_ERR_INVALID,
		    "state file %s: not an upkeep state (needs \"format\" and \"seq\")", j->path);
		goto out;
	}
	if (json_integer_value(fmt) != JOURNAL_FORMAT) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
		                    "state file %s: format %lld, expected %d", j->path,
		                    (long long)json_integer_value(fmt), JOURNAL_FORMAT);
		goto out;
	}
	j->seq = (uint64_t)json_integer_value(seq);
	json_object_del(doc, "format");
	json_object_del(doc, "seq");
	json_decref(j->root);
	j->root = doc;
	doc = NULL;
out:
	json_decref(doc);
	return ret;
}

upk_status journal_open(const char *path, struct journal **out, struct upk_error *err)
{
	struct journal *j = calloc(1, sizeof(*j));
	char *buf = NULL, *tmp = NULL;
	size_t len = 0;
	upk_status ret;

	if (j == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	j->path = strdup(path);
	j->root = json_object();
	tmp = malloc(strlen(path) + 5);
	if (j->path == NULL || j->root == NULL || tmp == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The temporary file of a commit that crashed before its rename: never valid. */
	sprintf(tmp, "%s.tmp", path);
	unlink(tmp);
	ret = fio_read_file(path, JOURNAL_MAX_BYTES, &buf, &len, err);
	if (ret == UPK_ERR_NOT_FOUND)
		ret = UPK_OK;
	else if (ret == UPK_OK)
		ret = load(j, buf, len, err);
	if (ret != UPK_OK)
		goto out;
	*out = j;
	j = NULL;
out:
	free(buf);
	free(tmp);
	journal_free(j);
	return ret;
}

json_t *journal_get(const struct journal *j, const char *key)
{
	return json_object_get(j->root, key);
}

upk_status journal_set(struct journal *j, const char *key, json_t *value, struct upk_error *err)
{
	if (value == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (strcmp(key, "format") == 0 || strcmp(key, "seq") == 0) {
		json_decref(value);
		return upk_error_set(err, UPK_ERR_INVALID, "state key \"%s\" is reserved", key);
	}
	if (json_object_set_new(j->root, key, value) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

void journal_del(struct journal *j, const char *key)
{
	json_object_del(j->root, key);
}

upk_status journal_commit(struct journal *j, struct upk_error *err)
{
	json_t *doc = json_copy(j->root);
	char *text = NULL;
	upk_status ret;

	if (doc == NULL || json_object_set_new(doc, "format", json_integer(JOURNAL_FORMAT)) != 0 ||
	    json_object_set_new(doc, "seq", json_integer((json_int_t)(j->seq + 1))) != 0 ||
	    (text = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1))) == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = fio_write_file_atomic(j->path, text, strlen(text), 0600, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "state file: ");
		goto out;
	}
	j->seq++;
out:
	free(text);
	json_decref(doc);
	return ret;
}

uint64_t journal_seq(const struct journal *j)
{
	return j->seq;
}

const char *journal_path(const struct journal *j)
{
	return j->path;
}

void journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	json_decref(j->root);
	free(j->path);
	free(j);
}
