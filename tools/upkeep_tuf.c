/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeep-tuf: the standard TUF client conformance command line (init,
 * refresh, download) over libupkeep's client, so independent test suites
 * can drive our client exactly as they drive other implementations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "upkeep/client.h"
#include "upkeep/fetch_curl.h"

#define MAX_TARGET_NAMES 1024

struct opts {
	const char *metadata_dir;
	const char *metadata_url;
	const char *target_dir;
	const char *target_base_url;
	const char *target_names[MAX_TARGET_NAMES];
	size_t n_target_names;
	char **args; /* after the subcommand */
	int n_args;
};

struct command {
	const char *name;
	int (*run)(const struct opts *o, struct upk_error *err);
	const char *usage;
	const char *summary;
};

static int cmd_init(const struct opts *o, struct upk_error *err);
static int cmd_refresh(const struct opts *o, struct upk_error *err);
static int cmd_download(const struct opts *o, struct upk_error *err);

static const struct command commands[] = {
    {"init", cmd_init, "--metadata-dir DIR init TRUSTED_ROOT_FILE",
     "trust TRUSTED_ROOT_FILE: copy it into DIR as root.json (no network)"},
    {"refresh", cmd_refresh, "--metadata-url URL --metadata-dir DIR refresh",
     "run the TUF update cycle: root chain, timestamp, snapshot, targets"},
    {"download", cmd_download,
     "--metadata-url URL --metadata-dir DIR --target-name P [--target-name P2 ...]\n"
     "           --target-dir TDIR --target-base-url TURL download",
     "refresh, then fetch and verify each target into TDIR/P (in order, stopping at the\n"
     "           first failure; a copy already there that matches is not fetched again)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: upkeep-tuf [OPTIONS] COMMAND [ARGS]\n\n"
	           "A TUF 1.0 client (the conformance command line). Options come before the\n"
	           "command, in any order. Exit status 0 on success, 1 on any failure.\n\n"
	           "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n    upkeep-tuf %s\n", commands[i].name, commands[i].summary,
		        commands[i].usage);
	fprintf(f, "\noptions:\n"
	           "  --metadata-dir DIR      trusted metadata (root.json, timestamp.json, ...)\n"
	           "  --metadata-url URL      base URL of the repository's metadata\n"
	           "  --target-name P         a target path to download (repeatable)\n"
	           "  --target-dir TDIR       where downloaded targets go (TDIR/P)\n"
	           "  --target-base-url TURL  base URL of the repository's targets\n"
	           "  --help                  this text\n");
}

static int need(const char *what, const char *value, struct upk_error *err)
{
	if (value != NULL)
		return 0;
	upk_error_set(err, UPK_ERR_INVALID, "missing %s", what);
	return 1;
}

static int make_client(const struct opts *o, const struct upk_fetcher *f, struct upk_client **c,
                       struct upk_error *err)
{
	struct upk_client_config cfg = {
	    .metadata_dir = o->metadata_dir,
	    .metadata_url = o->metadata_url,
	    .target_url = o->target_base_url,
	    .fetcher = f,
	};

	return upk_client_new(&cfg, c, err) == UPK_OK ? 0 : 1;
}

static int cmd_init(const struct opts *o, struct upk_error *err)
{
	char buf[UPK_CLIENT_DEFAULT_ROOT_MAX + 1];
	size_t len;
	FILE *f;

	if (need("--metadata-dir", o->metadata_dir, err))
		return 1;
	if (o->n_args != 1) {
		upk_error_set(err, UPK_ERR_INVALID, "init takes one TRUSTED_ROOT_FILE");
		return 1;
	}
	f = fopen(o->args[0], "rb");
	if (f == NULL) {
		upk_error_set(err, UPK_ERR_IO, "%s: %s", o->args[0], strerror(errno));
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len == sizeof(buf)) {
		upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: larger than %u bytes", o->args[0],
		              UPK_CLIENT_DEFAULT_ROOT_MAX);
		return 1;
	}
	if (mkdir(o->metadata_dir, 0755) != 0 && errno != EEXIST) {
		upk_error_set(err, UPK_ERR_IO, "%s: %s", o->metadata_dir, strerror(errno));
		return 1;
	}
	return upk_client_bootstrap(o->metadata_dir, buf, len, err) == UPK_OK ? 0 : 1;
}

static int cmd_refresh(const struct opts *o, struct upk_error *err)
{
	struct upk_fetcher *f = NULL;
	struct upk_client *c = NULL;
	int rc = 1;

	if (need("--metadata-dir", o->metadata_dir, err) ||
	    need("--metadata-url", o->metadata_url, err))
		return 1;
	if (upk_fetcher_curl_new(NULL, &f, err) != UPK_OK)
		return 1;
	if (make_client(o, f, &c, err) == 0 && upk_client_refresh(c, err) == UPK_OK)
		rc = 0;
	upk_client_free(c);
	upk_fetcher_curl_free(f);
	return rc;
}

/* A target path is kept under TDIR: no absolute paths, no "." or ".." or empty segments. */
static int safe_target_path(const char *p)
{
	const char *seg = p;

	if (*p == '\0' || *p == '/')
		return 0;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);

		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (end == NULL)
			return 1;
		seg = end + 1;
	}
}

static int cmd_download(const struct opts *o, struct upk_error *err)
{
	struct upk_fetcher *f = NULL;
	struct upk_client *c = NULL;
	int rc = 1;

	if (need("--metadata-dir", o->metadata_dir, err) ||
	    need("--metadata-url", o->metadata_url, err) ||
	    need("--target-dir", o->target_dir, err) ||
	    need("--target-base-url", o->target_base_url, err))
		return 1;
	if (o->n_target_names == 0) {
		upk_error_set(err, UPK_ERR_INVALID, "missing --target-name");
		return 1;
	}
	if (upk_fetcher_curl_new(NULL, &f, err) != UPK_OK)
		return 1;
	if (make_client(o, f, &c, err) != 0)
		goto out;
	/* One updater for every name, in order; the first failure ends the run. */
	for (size_t i = 0; i < o->n_target_names; i++) {
		struct upk_client_target *t = NULL;
		char path[4096];
		upk_status ret;

		if (!safe_target_path(o->target_names[i])) {
			upk_error_set(err, UPK_ERR_INVALID,
			              "target %s: not a relative path that stays under the target "
			              "directory",
			              o->target_names[i]);
			goto out;
		}
		if (snprintf(path, sizeof(path), "%s/%s", o->target_dir, o->target_names[i]) >=
		    (int)sizeof(path)) {
			upk_error_set(err, UPK_ERR_INVALID, "target %s: path too long",
			              o->target_names[i]);
			goto out;
		}
		ret = upk_client_find_target(c, o->target_names[i], &t, err);
		if (ret == UPK_OK)
			ret = upk_client_download_target_to_file(c, t, path, NULL, err);
		upk_client_target_free(t);
		if (ret != UPK_OK)
			goto out;
	}
	rc = 0;
out:
	upk_client_free(c);
	upk_fetcher_curl_free(f);
	return rc;
}

/* "--name VALUE" or "--name=VALUE"; returns the value or NULL when arg is another option. */
static const char *option_value(const char *name, int argc, char **argv, int *i)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct upk_error err = {0};
	const struct command *cmd = NULL;
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if ((v = option_value("--metadata-dir", argc, argv, &i)) != NULL) {
			o.metadata_dir = v;
		} else if ((v = option_value("--metadata-url", argc, argv, &i)) != NULL) {
			o.metadata_url = v;
		} else if ((v = option_value("--target-dir", argc, argv, &i)) != NULL) {
			o.target_dir = v;
		} else if ((v = option_value("--target-base-url", argc, argv, &i)) != NULL) {
			o.target_base_url = v;
		} else if ((v = option_value("--target-name", argc, argv, &i)) != NULL) {
			if (o.n_target_names == MAX_TARGET_NAMES) {
				fprintf(stderr, "upkeep-tuf: more than %d --target-name\n",
				        MAX_TARGET_NAMES);
				return 1;
			}
			o.target_names[o.n_target_names++] = v;
		} else {
			fprintf(stderr, "upkeep-tuf: unknown option or missing value: %s\n",
			        argv[i]);
			return 1;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			cmd = &commands[k];
	if (cmd == NULL) {
		fprintf(stderr, "upkeep-tuf: unknown command \"%s\" (see --help)\n", argv[i]);
		return 1;
	}
	o.args = argv + i + 1;
	o.n_args = argc - i - 1;
	if (cmd->run(&o, &err) != 0) {
		fprintf(stderr, "upkeep-tuf %s: %s\n", cmd->name,
		        err.msg[0] != '\0' ? err.msg : upk_status_str(err.code));
		return 1;
	}
	return 0;
}
