/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Module installer: hands the payload to an integrator's handler program
 * (containers, MCU firmware, anything) through the small protocol of
 * docs/agent.md: `HANDLER download|install|commit|rollback`, payload on
 * stdin for download, context in UPKEEP_* environment variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "installer.h"
#include "proc.h"
#include "upkeep/crypto.h"

struct module_inst {
	struct installer base;
	struct module_opts opts; /* strings below are copies */
	char *name, *handler, *workdir, *target, *version;
	unsigned timeout_s;
	struct proc *proc;
	struct upk_hash *payload_hash;
};

/* The environment of every step: NAME=value strings in one block, and pointers to them. */
struct step_env {
	char buf[6][1024];
	const char *ptrs[7];
};

static upk_status make_env(const struct module_opts *o, struct step_env *e, struct upk_error *err)
{
	char hex[65] = "";
	const char *vals[6];
	static const char *const names[6] = {"UPKEEP_MODULE",  "UPKEEP_WORKDIR", "UPKEEP_TARGET",
	                                     "UPKEEP_VERSION", "UPKEEP_LENGTH",  "UPKEEP_SHA256"};
	char len[24];

	if (o->expect.have_sha256)
		upk_hex_encode(o->expect.sha256, 32, hex);
	snprintf(len, sizeof(len), "%llu", (unsigned long long)o->expect.length);
	vals[0] = o->module->name;
	vals[1] = o->workdir;
	vals[2] = o->target != NULL ? o->target : "";
	vals[3] = o->version != NULL ? o->version : "";
	vals[4] = len;
	vals[5] = hex;
	for (int i = 0; i < 6; i++) {
		int n = snprintf(e->buf[i], sizeof(e->buf[i]), "%s=%s", names[i], vals[i]);
		if (n < 0 || (size_t)n >= sizeof(e->buf[i]))
			return upk_error_set(err, UPK_ERR_TOO_LARGE, "module %s: %s too long",
			                     o->module->name, names[i]);
		e->ptrs[i] = e->buf[i];
	}
	e->ptrs[6] = NULL;
	return UPK_OK;
}

static upk_status module_write(struct installer *in, const void *data, size_t len,
                               struct upk_error *err)
{
	struct module_inst *m = (struct module_inst *)in;
	upk_status ret;

	if (m->opts.expect.length != 0 && len > m->opts.expect.length - m->base.payload_bytes)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "payload longer than the expected %llu bytes",
		                     (unsigned long long)m->opts.expect.length);
	ret = upk_hash_update(m->payload_hash, data, len, err);
	if (ret == UPK_OK)
		ret = proc_write(m->proc, data, len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "module %s download: ", m->name);
	return UPK_OK;
}

static upk_status module_finish(struct installer *in, struct upk_error *err)
{
	struct module_inst *m = (struct module_inst *)in;
	uint8_t payload[UPK_HASH_MAX_LEN];
	char what[96];
	int status = 0;
	upk_status ret;

	snprintf(what, sizeof(what), "module %s download", m->name);
	ret = proc_finish(m->proc, &status, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", what);
	if (status != 0)
		return proc_status_error(m->proc, status, UPK_ERR_IO, err, what);
	ret = upk_hash_final(m->payload_hash, payload, err);
	if (ret == UPK_OK)
		ret = installer_check_payload(&m->opts.expect, m->base.payload_bytes, payload, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", what);
	return UPK_OK;
}

static void module_abort(struct installer *in)
{
	struct module_inst *m = (struct module_inst *)in;

	/* Kill the download step and drop what it stored: it was never verified. */
	proc_free(m->proc);
	m->proc = NULL;
	if (m->workdir != NULL)
		(void)fio_rmtree(m->workdir, NULL);
}

static void module_free(struct installer *in)
{
	struct module_inst *m = (struct module_inst *)in;

	proc_free(m->proc);
	upk_hash_free(m->payload_hash);
	free(m->name);
	free(m->handler);
	free(m->workdir);
	free(m->target);
	free(m->version);
	free(m);
}

static const struct installer_ops module_ops = {
    .name = "module",
    .write = module_write,
    .finish = module_finish,
    .abort = module_abort,
    .free = module_free,
};

static upk_status fresh_workdir(const char *dir, struct upk_error *err)
{
	upk_status ret = fio_rmtree(dir, err);

	if (ret == UPK_OK)
		ret = fio_mkdir_p(dir, 0700, err);
	return ret;
}

upk_status installer_module_begin(const struct module_opts *opts, struct installer **out,
                                  struct upk_error *err)
{
	struct module_inst *m = calloc(1, sizeof(*m));
	struct step_env env;
	upk_status ret;

	if (m == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	m->base.ops = &module_ops;
	m->name = strdup(opts->module->name);
	m->handler = strdup(opts->module->handler);
	m->workdir = strdup(opts->workdir);
	m->target = strdup(opts->target != NULL ? opts->target : "");
	m->version = strdup(opts->version != NULL ? opts->version : "");
	if (m->name == NULL || m->handler == NULL || m->workdir == NULL || m->target == NULL ||
	    m->version == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	m->timeout_s = opts->module->timeout_s ? opts->module->timeout_s : 600;
	m->opts = *opts;
	m->opts.workdir = m->workdir;
	m->opts.target = m->target;
	m->opts.version = m->version;
	ret = upk_hash_new(UPK_HASH_SHA256, &m->payload_hash, err);
	if (ret != UPK_OK)
		goto out;
	ret = fresh_workdir(m->workdir, err);
	if (ret != UPK_OK)
		goto out;
	ret = make_env(&m->opts, &env, err);
	if (ret != UPK_OK)
		goto out;
	{
		const char *argv[] = {m->handler, "download", NULL};
		struct proc_spec spec = {.argv = argv,
		                         .env = env.ptrs,
		                         .feed_stdin = 1,
		                         .timeout_ms = m->timeout_s * 1000u};
		ret = proc_start(&spec, &m->proc, err);
	}
	if (ret != UPK_OK)
		goto out;
	*out = &m->base;
	m = NULL;
out:
	if (m != NULL) {
		if (ret != UPK_OK)
			upk_error_prefix(err, ret, "module %s: ", m->name != NULL ? m->name : "?");
		module_abort(&m->base);
		module_free(&m->base);
	}
	return ret;
}

upk_status module_step(const struct module_opts *opts, const char *step, struct upk_error *err)
{
	const char *argv[] = {opts->module->handler, step, NULL};
	unsigned timeout_s = opts->module->timeout_s ? opts->module->timeout_s : 600;
	struct step_env env;
	struct proc_spec spec = {.argv = argv, .timeout_ms = timeout_s * 1000u};
	struct proc *p = NULL;
	char what[96];
	int status = 0;
	upk_status ret;

	snprintf(what, sizeof(what), "module %s %s", opts->module->name, step);
	if (strcmp(step, "install") != 0 && strcmp(step, "commit") != 0 &&
	    strcmp(step, "rollback") != 0)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "module step \"%s\" (install, commit, rollback)", step);
	ret = make_env(opts, &env, err);
	if (ret != UPK_OK)
		return ret;
	spec.env = env.ptrs;
	ret = proc_start(&spec, &p, err);
	if (ret == UPK_OK)
		ret = proc_finish(p, &status, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%s: ", what);
		goto out;
	}
	if (status != 0) {
		ret = proc_status_error(p, status, UPK_ERR_IO, err, what);
		goto out;
	}
	/* The update is over either way: its staged files have served their purpose. */
	if (strcmp(step, "install") != 0)
		ret = fio_rmtree(opts->workdir, err);
out:
	proc_free(p);
	return ret;
}
