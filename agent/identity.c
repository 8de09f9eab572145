/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device identity: the Ed25519 key pair generated on the device at first
 * start. Only the public half and the key id ever leave this file's callers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "identity.h"

static upk_status check_mode(const char *path, struct upk_error *err)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "device key %s does not exist",
			                     path);
		return upk_error_set(err, UPK_ERR_IO, "stat %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return upk_error_set(err, UPK_ERR_INVALID, "device key %s is not a regular file",
		                     path);
	/* Like ssh: a private key others can read or replace is not the device's own any more. */
	if (st.st_mode & 077)
		return upk_error_set(
		    err, UPK_ERR_INVALID,
		    "device key %s has mode %04o: group and others must have no access (chmod 600)",
		    path, (unsigned)(st.st_mode & 07777));
	return UPK_OK;
}

static upk_status finish(struct upk_key *key, int created, struct identity **out,
                         struct upk_error *err)
{
	struct identity *id = calloc(1, sizeof(*id));
	upk_status ret;

	if (id == NULL) {
		upk_key_free(key);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	id->key = key;
	id->created = created;
	ret = upk_key_id(key, id->id, err);
	if (ret != UPK_OK) {
		identity_free(id);
		return ret;
	}
	*out = id;
	return UPK_OK;
}

upk_status identity_load(const char *path, struct identity **out, struct upk_error *err)
{
	struct upk_key *key = NULL;
	upk_status ret;

	ret = check_mode(path, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_keyfile_read(path, NULL, &key, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "device key: ");
	if (!upk_key_has_private(key) || upk_key_type(key) != UPK_KEY_ED25519) {
		upk_key_free(key);
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "device key %s is not an Ed25519 private key", path);
	}
	return finish(key, 0, out, err);
}

upk_status identity_load_or_create(const char *path, struct identity **out, struct upk_error *err)
{
	struct upk_key *key = NULL;
	char *dir = NULL;
	const char *slash;
	upk_status ret;

	ret = identity_load(path, out, err);
	if (ret != UPK_ERR_NOT_FOUND)
		return ret;
	slash = strrchr(path, '/');
	if (slash != NULL && slash != path) {
		dir = strndup(path, (size_t)(slash - path));
		if (dir == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		ret = fio_mkdir_p(dir, 0700, err);
		free(dir);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "device key: ");
	}
	ret = upk_key_generate_ed25519(&key, err);
	if (ret != UPK_OK)
		return ret;
	/* Unencrypted: the agent starts unattended; the file mode is the protection. */
	ret = upk_keyfile_write_private(path, key, NULL, err);
	if (ret == UPK_ERR_EXISTS) {
		/* Another agent instance won the race: use its key, not ours. */
		upk_key_free(key);
		return identity_load(path, out, err);
	}
	if (ret != UPK_OK) {
		upk_key_free(key);
		return upk_error_prefix(err, ret, "device key: ");
	}
	return finish(key, 1, out, err);
}

void identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	upk_key_free(id->key);
	free(id);
}
