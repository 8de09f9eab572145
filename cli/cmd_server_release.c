/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep release publish DIR`: upload a staging area's signed roles (or what
 * `upkeep publish` wrote) to a fleet's image repository on the server: the
 * root versions it lacks (in chain order), then targets and delegated roles
 * newer than its own, then every payload those roles list that it does not
 * hold yet. The server verifies all of it against the trusted root and makes
 * snapshot and timestamp with its online keys; this side only sends.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"

static const struct cli_opt publish_opts[] = {
	SRV_FLEET_OPT,
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec publish_spec = {
	"upkeep release publish DIR [options]",
	"Upload signed metadata and payloads to the fleet's image repository, from a staging\n"
	"area (DIR of 'upkeep repo init': the published root chain, the staged root, targets\n"
	"and delegated roles signed to their thresholds; payloads from DIR/targets) or from a\n"
	"published repository (the --out directory of 'upkeep publish'). Root versions the\n"
	"server lacks go first, in order, then roles newer than the server's, then every listed\n"
	"payload the server does not have yet (with a progress bar on a terminal). The server\n"
	"checks everything against the trusted root and makes snapshot and timestamp with its\n"
	"online keys. Running it again uploads nothing new.",
	publish_opts, 1, 1,
};

struct pub {
	struct srv_conn *c;
	const char *dir;
	int staging;             /* a staging area rather than a published repository */
	json_t *roles;           /* "ROLE.json" -> {"version", "file"} found locally */
	char fleet_path[256];    /* "/v1/fleets/NAME" */
	json_t *server_versions; /* role -> version the server has */
	json_t *report;
	int64_t payload_bytes;
};

/* A JSON file under dir (rel is relative to it); *text_out (may be NULL) gets its bytes. */
static upk_status load(const char *dir, const char *rel, json_t **out, char **text_out,
		       struct upk_error *err)
{
	char *path, *text = NULL;
	size_t len = 0;
	upk_status ret;
	json_error_t je;

	if (rel == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "no file for a role");
	path = cli_join(dir, rel);
	if (path == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = cli_read_file(path, CLI_MAX_FILE, &text, &len, err);
	if (ret == UPK_OK) {
		*out = json_loadb(text, len, 0, &je);
		if (*out == NULL)
			ret = upk_error_set(err, UPK_ERR_INVALID, "%s:%d: %s", path, je.line, je.text);
	}
	free(path);
	if (ret == UPK_OK && text_out != NULL)
		*text_out = text;
	else
		free(text);
	return ret;
}

/* The version in a metadata file's signed part, 0 when unreadable. */
static int64_t file_version(const char *dir, const char *rel)
{
	struct upk_error e = {0};
	json_t *doc = NULL;
	int64_t v = 0;

	if (load(dir, rel, &doc, NULL, &e) == UPK_OK)
		v = json_integer_value(json_object_get(json_object_get(doc, "signed"), "version"));
	json_decref(doc);
	return v;
}

static int64_t server_version(struct pub *p, const char *role)
{
	return json_integer_value(json_object_get(p->server_versions, role));
}

static upk_status put_role(struct pub *p, const char *role, const char *text,
			   struct upk_error *err)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/image/metadata/", p->fleet_path);
	if (srv_path_append(path, sizeof(path), role, SRV_ENCODE) != 0)
		return upk_error_set(err, UPK_ERR_INVALID, "role name too long");
	return srv_call(p->c, "PUT", path, text, NULL, NULL, err);
}

/*
 * In a staging area, what the server accepted becomes DIR/published/FILE:
 * the version-bump rule (docs/owner-tool.md) then moves the next edit of a
 * role past what devices already see, as after a local `upkeep publish`.
 */
static upk_status mark_published(struct pub *p, const char *file, const char *text,
				 struct upk_error *err)
{
	char rel[320];
	char *dir = cli_join(p->dir, "published"), *path;
	upk_status ret;

	if (!p->staging) {
		free(dir);
		return UPK_OK;
	}
	snprintf(rel, sizeof(rel), "published/%s", file);
	path = cli_join(p->dir, rel);
	ret = dir == NULL || path == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
					  : cli_mkdirs(dir, err);
	if (ret == UPK_OK)
		ret = cli_write_atomic(path, text, strlen(text), 0644, err);
	free(dir);
	free(path);
	return ret;
}

/*
 * Root versions after the server's, in chain order: N.root.json of the
 * published chain, or a staged root.json that carries the next version.
 */
static upk_status push_roots(struct pub *p, struct upk_error *err)
{
	json_t *list = json_array();
	upk_status ret = UPK_OK;
	int64_t staged = p->staging ? file_version(p->dir, "staged/root.json") : 0;

	/* The root the fleet was created with: the start of the published chain. */
	if (staged > 0 && staged <= server_version(p, "root")) {
		char file[64], *path, *text = NULL;
		json_t *doc = NULL;

		snprintf(file, sizeof(file), "published/%lld.root.json", (long long)staged);
		path = cli_join(p->dir, file);
		if (path != NULL && !cli_exists(path) &&
		    load(p->dir, "staged/root.json", &doc, &text, err) == UPK_OK)
			ret = mark_published(p, file + 10, text, err);
		json_decref(doc);
		free(text);
		free(path);
	}

	for (int64_t v = server_version(p, "root") + 1; ret == UPK_OK; v++) {
		char file[96], *text = NULL, *path;
		json_t *doc = NULL;

		snprintf(file, sizeof(file), "%s/%lld.root.json", p->staging ? "published" : "metadata",
			 (long long)v);
		path = cli_join(p->dir, file);
		if (path == NULL)
			break;
		if (!cli_exists(path)) {
			snprintf(file, sizeof(file), "staged/root.json");
			if (!p->staging || file_version(p->dir, file) != v) {
				free(path);
				break;
			}
		}
		free(path);
		ret = load(p->dir, file, &doc, &text, err);
		if (ret == UPK_OK)
			ret = put_role(p, "root", text, err);
		if (ret == UPK_OK) {
			char name[64];

			snprintf(name, sizeof(name), "%lld.root.json", (long long)v);
			ret = mark_published(p, name, text, err);
		}
		if (ret == UPK_OK)
			json_array_append_new(list, json_integer(v));
		json_decref(doc);
		free(text);
	}
	json_object_set_new(p->report, "roots", list);
	return ret;
}

/* The local roles: the staged files of a staging area, or the snapshot of a PUBDIR. */
static upk_status find_roles(struct pub *p, struct upk_error *err)
{
	json_t *ts = NULL, *snap = NULL, *m;
	const char *file;
	char name[300];
	upk_status ret = UPK_OK;

	p->roles = json_object();
	if (p->staging) {
		static const char *const SKIP[] = {"root.json", "snapshot.json", "timestamp.json"};
		char *sdir = cli_join(p->dir, "staged");
		DIR *d = sdir != NULL ? opendir(sdir) : NULL;
		struct dirent *de;

		if (d == NULL)
			ret = upk_error_set(err, UPK_ERR_IO, "%s/staged: cannot read it", p->dir);
		while (ret == UPK_OK && (de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name), k;

			if (n < 6 || n > 200 || strcmp(de->d_name + n - 5, ".json") != 0)
				continue;
			for (k = 0; k < 3 && strcmp(SKIP[k], de->d_name) != 0; k++)
				;
			if (k < 3)
				continue;
			snprintf(name, sizeof(name), "staged/%s", de->d_name);
			json_object_set_new(p->roles, de->d_name,
					    json_pack("{s:I, s:s}", "version",
						      (json_int_t)file_version(p->dir, name), "file",
						      name));
		}
		if (d != NULL)
			closedir(d);
		free(sdir);
		return ret;
	}
	ret = load(p->dir, "metadata/timestamp.json", &ts, NULL, err);
	if (ret == UPK_OK) {
		snprintf(name, sizeof(name), "metadata/%lld.snapshot.json",
			 (long long)json_integer_value(json_object_get(
				 json_object_get(json_object_get(json_object_get(ts, "signed"), "meta"),
						 "snapshot.json"),
				 "version")));
		ret = load(p->dir, name, &snap, NULL, err);
	}
	json_object_foreach(json_object_get(json_object_get(snap, "signed"), "meta"), file, m) {
		int64_t v = json_integer_value(json_object_get(m, "version"));

		snprintf(name, sizeof(name), "metadata/%lld.%.200s", (long long)v, file);
		json_object_set_new(p->roles, file,
				    json_pack("{s:I, s:s}", "version", (json_int_t)v, "file", name));
	}
	json_decref(ts);
	json_decref(snap);
	return ret;
}

/*
 * Targets and delegated roles newer than the server's. A delegated role is
 * verified by its delegator, so roles go in rounds until none is left or a
 * round makes no progress (then the first error is the one reported).
 */
static upk_status push_roles(struct pub *p, struct upk_error *err)
{
	json_t *pending = json_array(), *done = json_array(), *m;
	const char *file;
	upk_status ret = UPK_OK;

	json_object_foreach(p->roles, file, m) {
		char role[256];
		size_t n = strlen(file);

		if (n < 6 || n - 5 >= sizeof(role) || strcmp(file + n - 5, ".json") != 0)
			continue;
		memcpy(role, file, n - 5);
		role[n - 5] = '\0';
		if (json_integer_value(json_object_get(m, "version")) <= server_version(p, role))
			continue;
		/* targets first: the others hang from it. */
		if (strcmp(role, "targets") == 0)
			json_array_insert_new(pending, 0, json_string(role));
		else
			json_array_append_new(pending, json_string(role));
	}
	while (ret == UPK_OK && json_array_size(pending) > 0) {
		struct upk_error first = {0};
		upk_status first_ret = UPK_OK;
		size_t before = json_array_size(pending);

		for (size_t i = 0; i < json_array_size(pending);) {
			const char *role = json_string_value(json_array_get(pending, i));
			char key[300], *text = NULL;
			json_t *doc = NULL;
			struct upk_error e = {0};
			upk_status r;

			snprintf(key, sizeof(key), "%s.json", role);
			r = load(p->dir,
				 json_string_value(json_object_get(json_object_get(p->roles, key), "file")),
				 &doc, &text, &e);
			if (r == UPK_OK)
				r = put_role(p, role, text, &e);
			if (r == UPK_OK)
				r = mark_published(p, key, text, &e);
			json_decref(doc);
			free(text);
			if (r == UPK_OK) {
				json_array_append(done, json_array_get(pending, i));
				json_array_remove(pending, i);
				continue;
			}
			if (first_ret == UPK_OK) {
				first_ret = r;
				first = e;
			}
			i++;
		}
		if (json_array_size(pending) == before) {
			ret = first_ret;
			*err = first;
		}
	}
	json_object_set_new(p->report, "roles", done);
	json_decref(pending);
	return ret;
}

/* Every payload the local targets roles list, uploaded unless the server has it. */
static upk_status push_payloads(struct pub *p, struct upk_error *err)
{
	json_t *uploaded = json_array(), *m;
	int64_t present = 0;
	const char *file;
	upk_status ret = UPK_OK;

	json_object_foreach(p->roles, file, m) {
		json_t *doc = NULL, *t;
		const char *tpath;

		if (ret != UPK_OK)
			break;
		ret = load(p->dir, json_string_value(json_object_get(m, "file")), &doc, NULL, err);
		json_object_foreach(json_object_get(json_object_get(doc, "signed"), "targets"), tpath,
				    t) {
			const char *sha = json_string_value(
				json_object_get(json_object_get(t, "hashes"), "sha256"));
			const char *base = strrchr(tpath, '/');
			char rel[4600], url[8400], api[8400];
			char *local;
			int exists = 0;

			if (ret != UPK_OK)
				break;
			if (sha == NULL) {
				ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
						    "target %s has no sha256 hash", tpath);
				break;
			}
			/* The server's consistent-snapshot name: DIR/HASH.BASENAME. */
			if (base != NULL)
				snprintf(rel, sizeof(rel), "targets/%.*s/%s.%s", (int)(base - tpath),
					 tpath, sha, base + 1);
			else
				snprintf(rel, sizeof(rel), "targets/%s.%s", sha, tpath);
			snprintf(url, sizeof(url), "%s/image/", p->fleet_path);
			if (srv_path_append(url, sizeof(url), rel, SRV_KEEP_SLASH) != 0) {
				ret = upk_error_set(err, UPK_ERR_INVALID, "target path too long");
				break;
			}
			ret = srv_exists(p->c, url, &exists, err);
			if (ret != UPK_OK)
				break;
			if (exists) {
				present++;
				continue;
			}
			/* A staging area keeps payloads under their plain path. */
			if (p->staging)
				snprintf(rel, sizeof(rel), "targets/%s", tpath);
			local = cli_join(p->dir, rel);
			snprintf(api, sizeof(api), "%s/image/targets/", p->fleet_path);
			if (local == NULL || srv_path_append(api, sizeof(api), tpath, SRV_KEEP_SLASH) != 0) {
				free(local);
				ret = upk_error_set(err, UPK_ERR_INVALID, "target path too long");
				break;
			}
			ret = srv_put_file(p->c, api, local, tpath, NULL, err);
			free(local);
			if (ret == UPK_OK) {
				json_array_append_new(uploaded, json_string(tpath));
				p->payload_bytes += json_integer_value(json_object_get(t, "length"));
			}
		}
		json_decref(doc);
	}
	json_object_set_new(p->report, "payloads_uploaded", uploaded);
	json_object_set_new(p->report, "payloads_present", json_integer(present));
	json_object_set_new(p->report, "payload_bytes", json_integer(p->payload_bytes));
	return ret;
}

static int release_publish(int argc, char **argv)
{
	struct cli_args a;
	struct pub p;
	struct upk_error err = {0};
	json_t *fleet = NULL, *r;
	upk_status ret;
	size_t i;
	enum cli_parse_result pr = cli_parse(&publish_spec, argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	memset(&p, 0, sizeof(p));
	p.dir = a.pos[0];
	p.report = json_object();
	p.server_versions = json_object();
	{
		char *marker = cli_join(p.dir, "upkeep-repo.json");

		p.staging = marker != NULL && cli_exists(marker);
		free(marker);
	}
	ret = srv_open(&a, 1, &p.c, &err);
	if (ret == UPK_OK) {
		snprintf(p.fleet_path, sizeof(p.fleet_path), "/v1/fleets/");
		if (srv_path_append(p.fleet_path, sizeof(p.fleet_path), srv_fleet(p.c), SRV_ENCODE) != 0)
			ret = upk_error_set(&err, UPK_ERR_INVALID, "fleet name too long");
	}
	/* What the server has now. */
	if (ret == UPK_OK)
		ret = srv_call(p.c, "GET", p.fleet_path, NULL, NULL, &fleet, &err);
	json_array_foreach(json_object_get(fleet, "image"), i, r)
		json_object_set(p.server_versions, json_string_value(json_object_get(r, "role")),
				json_object_get(r, "version"));
	if (ret == UPK_OK)
		ret = find_roles(&p, &err);
	if (ret == UPK_OK)
		ret = push_roots(&p, &err);
	if (ret == UPK_OK)
		ret = push_roles(&p, &err);
	if (ret == UPK_OK)
		ret = push_payloads(&p, &err);
	json_decref(fleet);
	json_decref(p.roles);
	json_decref(p.server_versions);
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "release publish: ");
		json_decref(p.report);
		srv_close(p.c);
		cli_args_free(&a);
		return cli_fail(&err);
	}
	if (srv_json(p.c)) {
		srv_print_json(p.report);
	} else {
		printf("published to fleet %s: %zu root(s), %zu role(s), %zu payload(s) uploaded "
		       "(%lld bytes), %lld already there\n",
		       srv_fleet(p.c), json_array_size(json_object_get(p.report, "roots")),
		       json_array_size(json_object_get(p.report, "roles")),
		       json_array_size(json_object_get(p.report, "payloads_uploaded")),
		       (long long)p.payload_bytes,
		       (long long)json_integer_value(json_object_get(p.report, "payloads_present")));
		json_decref(p.report);
	}
	srv_close(p.c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}

int cmd_release(int argc, char **argv)
{
	static const struct cli_command sub[] = {
		{"publish", release_publish, "upload signed metadata and payloads to the server"},
	};

	return cli_dispatch("upkeep release", sub, sizeof(sub) / sizeof(sub[0]), argc, argv);
}
