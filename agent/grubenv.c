/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GRUB environment blocks. The block keeps its size when rewritten: GRUB's
 * save_env writes into the file's existing sectors and refuses to grow it.
 * Variables we do not own are kept byte for byte, in their order.
 */
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "grubenv.h"

#define GRUBENV_MAX_VARS 1024u

struct grubenv_var {
	char *name;
	char *value;
};

struct grubenv {
	size_t size;
	struct grubenv_var *vars;
	size_t n;
};

void grubenv_free(struct grubenv *env)
{
	if (env == NULL)
		return;
	for (size_t i = 0; i < env->n; i++) {
		free(env->vars[i].name);
		free(env->vars[i].value);
	}
	free(env->vars);
	free(env);
}

upk_status grubenv_new(size_t size, struct grubenv **out, struct upk_error *err)
{
	struct grubenv *env;

	if (size < sizeof(GRUBENV_SIGNATURE) - 1 || size > GRUBENV_MAX_SIZE)
		return upk_error_set(err, UPK_ERR_INVALID, "GRUB environment block size %zu", size);
	env = calloc(1, sizeof(*env));
	if (env == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	env->size = size;
	*out = env;
	return UPK_OK;
}

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static upk_status append(struct grubenv *env, const char *name, size_t name_len, char *value,
                         struct upk_error *err)
{
	struct grubenv_var *nv;

	if (env->n >= GRUBENV_MAX_VARS) {
		free(value);
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "more than %u GRUB variables",
		                     GRUBENV_MAX_VARS);
	}
	nv = realloc(env->vars, (env->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(value);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	env->vars = nv;
	nv[env->n].name = strndup(name, name_len);
	nv[env->n].value = value;
	if (nv[env->n].name == NULL) {
		free(value);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	env->n++;
	return UPK_OK;
}

upk_status grubenv_parse(const char *buf, size_t len, struct grubenv **out, struct upk_error *err)
{
	const size_t sig = sizeof(GRUBENV_SIGNATURE) - 1;
	struct grubenv *env = NULL;
	size_t pos;
	upk_status ret;

	if (len < sig || memcmp(buf, GRUBENV_SIGNATURE, sig) != 0)
		return upk_error_set(
		    err, UPK_ERR_INVALID,
		    "not a GRUB environment block (no \"# GRUB Environment Block\" signature)");
	if (len > GRUBENV_MAX_SIZE)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "GRUB environment block of %zu bytes (at most %u)", len,
		                     GRUBENV_MAX_SIZE);
	ret = grubenv_new(len, &env, err);
	if (ret != UPK_OK)
		return ret;
	pos = sig;
	while (pos < len) {
		const char *eq, *nl;
		size_t name_len, vlen = 0;
		char *value;

		if (buf[pos] == '#') {
			/* A comment line, or the padding (which may end without a newline). */
			nl = memchr(buf + pos, '\n', len - pos);
			pos = nl != NULL ? (size_t)(nl - buf) + 1 : len;
			continue;
		}
		if (buf[pos] == '\n') {
			pos++;
			continue;
		}
		eq = memchr(buf + pos, '=', len - pos);
		nl = memchr(buf + pos, '\n', len - pos);
		if (eq == NULL || (nl != NULL && nl < eq)) {
			ret =
			    upk_error_set(err, UPK_ERR_INVALID,
			                  "GRUB environment: line at offset %zu has no \"=\"", pos);
			goto out;
		}
		name_len = (size_t)(eq - (buf + pos));
		if (name_len == 0 || memchr(buf + pos, '\0', name_len) != NULL) {
			ret =
			    upk_error_set(err, UPK_ERR_INVALID,
			                  "GRUB environment: bad variable name at offset %zu", pos);
			goto out;
		}
		value = malloc(len - pos);
		if (value == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		pos = (size_t)(eq - buf) + 1;
		for (;;) {
			if (pos >= len) {
				free(value);
				ret = upk_error_set(err, UPK_ERR_INVALID,
				                    "GRUB environment: value of \"%.*s\" not "
				                    "terminated by a newline",
				                    (int)(name_len > 64 ? 64 : name_len),
				                    eq - name_len);
				goto out;
			}
			if (buf[pos] == '\\' && pos + 1 < len) {
				value[vlen++] = buf[pos + 1];
				pos += 2;
				continue;
			}
			if (buf[pos] == '\n') {
				pos++;
				break;
			}
			if (buf[pos] == '\0') {
				free(value);
				ret =
				    upk_error_set(err, UPK_ERR_INVALID,
				                  "GRUB environment: NUL byte at offset %zu", pos);
				goto out;
			}
			value[vlen++] = buf[pos++];
		}
		value[vlen] = '\0';
		ret = append(env, eq - name_len, name_len, value, err);
		if (ret != UPK_OK)
			goto out;
	}
	*out = env;
	env = NULL;
out:
	grubenv_free(env);
	return ret;
}

upk_status grubenv_read(const char *path, struct grubenv **out, struct upk_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	upk_status ret;

	ret = fio_read_file(path, GRUBENV_MAX_SIZE, &buf, &len, err);
	if (ret != UPK_OK)
		return ret;
	ret = grubenv_parse(buf, len, out, err);
	free(buf);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", path);
	return UPK_OK;
}

const char *grubenv_get(const struct grubenv *env, const char *name)
{
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			return env->vars[i].value;
	return NULL;
}

upk_status grubenv_set(struct grubenv *env, const char *name, const char *value,
                       struct upk_error *err)
{
	char *copy;

	if (!name_ok(name, strlen(name)))
		return upk_error_set(err, UPK_ERR_INVALID, "GRUB variable name \"%s\"", name);
	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->vars[i].name, name) != 0)
			continue;
		if (value == NULL) {
			free(env->vars[i].name);
			free(env->vars[i].value);
			memmove(&env->vars[i], &env->vars[i + 1],
			        (env->n - i - 1) * sizeof(env->vars[0]));
			env->n--;
			return UPK_OK;
		}
		copy = strdup(value);
		if (copy == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		free(env->vars[i].value);
		env->vars[i].value = copy;
		return UPK_OK;
	}
	if (value == NULL)
		return UPK_OK;
	copy = strdup(value);
	if (copy == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return append(env, name, strlen(name), copy, err);
}

upk_status grubenv_serialize(const struct grubenv *env, char **out, size_t *len,
                             struct upk_error *err)
{
	const size_t sig = sizeof(GRUBENV_SIGNATURE) - 1;
	char *buf = malloc(env->size);
	size_t pos = sig;

	if (buf == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	memcpy(buf, GRUBENV_SIGNATURE, sig);
	for (size_t i = 0; i < env->n; i++) {
		const char *name = env->vars[i].name, *v = env->vars[i].value;
		size_t nl = strlen(name);

		if (pos + nl + 1 > env->size)
			goto full;
		memcpy(buf + pos, name, nl);
		pos += nl;
		buf[pos++] = '=';
		for (; *v != '\0'; v++) {
			/* GRUB's escaping: a backslash before backslashes and newlines. */
			if (*v == '\\' || *v == '\n') {
				if (pos + 1 > env->size)
					goto full;
				buf[pos++] = '\\';
			}
			if (pos + 1 > env->size)
				goto full;
			buf[pos++] = *v;
		}
		if (pos + 1 > env->size)
			goto full;
		buf[pos++] = '\n';
	}
	memset(buf + pos, '#', env->size - pos);
	*out = buf;
	*len = env->size;
	return UPK_OK;
full:
	free(buf);
	return upk_error_set(err, UPK_ERR_TOO_LARGE,
	                     "the variables do not fit the %zu-byte GRUB environment block",
	                     env->size);
}

upk_status grubenv_write(const struct grubenv *env, const char *path, struct upk_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	upk_status ret;

	ret = grubenv_serialize(env, &buf, &len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", path);
	/*
	 * Write beside and rename, so a power cut leaves the old or the new block,
	 * never a torn one; GRUB finds the file's new sectors at the next boot.
	 */
	ret = fio_write_file_atomic(path, buf, len, 0644, err);
	free(buf);
	return ret;
}
